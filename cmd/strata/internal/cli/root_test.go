package cli

import (
	"runtime/debug"
	"testing"
)

func TestStamp(t *testing.T) {
	vcs := func(rev, at, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: at}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "3b3a161f00dfeedbeef0123456789abcdef01234"
	tests := []struct {
		name    string
		v, c, d string
		bi      *debug.BuildInfo
		want    [3]string
	}{
		{name: "no build record", v: "dev", c: "unknown", want: [3]string{"dev", "unknown", ""}},
		{name: "linker stamp wins", v: "v1.0.0", c: "abcdef012345", d: "2026-11-27T10:00:00Z",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}, Settings: vcs(rev, "2026-01-01T00:00:00Z", "true")},
			want: [3]string{"v1.0.0", "abcdef012345", "2026-11-27T10:00:00Z"}},
		{name: "go install at a version", v: "dev", c: "unknown",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}},
			want: [3]string{"v1.2.0", "unknown", ""}},
		{name: "go build in a clean checkout", v: "dev", c: "unknown",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "2026-11-27T09:00:00Z", "false")},
			want: [3]string{"dev", "3b3a161f00df", "2026-11-27T09:00:00Z"}},
		{name: "go build with changes", v: "dev", c: "unknown",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "2026-11-27T09:00:00Z", "true")},
			want: [3]string{"dev", "3b3a161f00df-dirty", "2026-11-27T09:00:00Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			read := func() (*debug.BuildInfo, bool) { return tc.bi, tc.bi != nil }
			v, c, d := stamp(tc.v, tc.c, tc.d, read)
			if got := [3]string{v, c, d}; got != tc.want {
				t.Errorf("stamp = %q, want %q", got, tc.want)
			}
		})
	}
}
