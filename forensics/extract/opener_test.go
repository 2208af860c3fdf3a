package extract_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/extract"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/tree"
)

// blobs serves a hand-built tree's bytes by layer and path, recording what
// was opened: File needs a tree and an opener, no scan.
type blobs struct {
	data   map[string]string // "layer:path" -> bytes
	opened []string
}

func (b *blobs) Open(layerIdx int, e *layer.Entry) (io.ReadCloser, error) {
	key := fmt.Sprintf("%d:%s", layerIdx, e.Path)
	b.opened = append(b.opened, key)
	s, ok := b.data[key]
	if !ok {
		return nil, errors.New("no such blob entry")
	}
	return io.NopCloser(strings.NewReader(s)), nil
}

func TestFileOpener(t *testing.T) {
	file := func(p, content string) *layer.Entry {
		return &layer.Entry{Path: p, Type: layer.File, Mode: 0o644, Size: int64(len(content)), SHA256: sha([]byte(content))}
	}
	tr := tree.New()
	tr.Apply(0, []*layer.Entry{file("/etc/app.conf", "v1\n"), file("/bin/tool", "tool\n")})
	tr.Apply(1, []*layer.Entry{
		file("/etc/app.conf", "v2\n"),
		{Path: "/bin/hl", Type: layer.Hardlink, Link: "/bin/tool"},
		{Path: "/conf", Type: layer.Symlink, Link: "etc/app.conf"},
	})
	data := map[string]string{"0:/etc/app.conf": "v1\n", "1:/etc/app.conf": "v2\n", "0:/bin/tool": "tool\n"}
	tests := []struct {
		name    string
		path    string
		layer   int
		opened  string // "layer:path" the bytes are read from
		written string // relative to DEST: a symlink's target, a hardlink's own path
		content string
		errText string
	}{
		{name: "final version", path: "/etc/app.conf", layer: -1, opened: "1:/etc/app.conf", written: "etc/app.conf", content: "v2\n"},
		{name: "earlier version", path: "/etc/app.conf", layer: 0, opened: "0:/etc/app.conf", written: "etc/app.conf", content: "v1\n"},
		{name: "symlink", path: "/conf", layer: -1, opened: "1:/etc/app.conf", written: "etc/app.conf", content: "v2\n"},
		{name: "hardlink to a lower layer", path: "/bin/hl", layer: -1, opened: "0:/bin/tool", written: "bin/hl", content: "tool\n"},
		{name: "layer out of range", path: "/etc/app.conf", layer: 2, errText: "the image has 2 layers (0-1)"},
		{name: "absent", path: "/nope", layer: -1, errText: "/nope: no such path in any layer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := &blobs{data: data}
			dest := t.TempDir()
			written, sum, err := extract.File(context.Background(), tr, o, tc.path, tc.layer, dest, false)
			if tc.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("error %v, want one saying %q", err, tc.errText)
				}
				if len(o.opened) != 0 {
					t.Errorf("opened %v on failure", o.opened)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(o.opened, " "); got != tc.opened {
				t.Errorf("opened %s, want %s", got, tc.opened)
			}
			if want := filepath.Join(dest, tc.written); written != want {
				t.Errorf("written to %s, want %s", written, want)
			}
			b, err := os.ReadFile(written)
			if err != nil || string(b) != tc.content || sum != sha(b) {
				t.Errorf("wrote %q (sha256 %s, %v), want %q", b, sum, err, tc.content)
			}
		})
	}
}
