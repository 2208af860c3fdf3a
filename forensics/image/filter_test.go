package image

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"debian", "docker.io/library/debian:latest"},
		{"debian:sid", "docker.io/library/debian:sid"},
		{"library/debian", "docker.io/library/debian:latest"},
		{"docker.io/library/debian:latest", "docker.io/library/debian:latest"},
		{"index.docker.io/library/debian", "docker.io/library/debian:latest"},
		{"user/app:v1", "docker.io/user/app:v1"},
		{"registry.example:5000/app", "registry.example:5000/app:latest"},
		{"localhost/app:1", "localhost/app:1"},
		{"quay.io/org/app@sha256:abc", "quay.io/org/app@sha256:abc"},
		{"app:v1@sha256:abc", "docker.io/library/app:v1@sha256:abc"},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := Normalize(tc.in); got != tc.want {
				t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	d := func(s string) digest.Digest { return digest.FromString(s) }
	debAmd := &Image{Names: []string{"debian:sid"}, Platform: "linux/amd64", ManifestDigest: d("m1"), ConfigDigest: d("c1"), IndexDigests: []digest.Digest{d("i1")}}
	debArm := &Image{Names: []string{"debian:sid"}, Platform: "linux/arm64/v8", ManifestDigest: d("m2"), ConfigDigest: d("c2"), IndexDigests: []digest.Digest{d("i1")}}
	app := &Image{Names: []string{"docker.io/library/app:latest", "latest"}, Platform: "linux/arm/v7", ManifestDigest: d("m3"), ConfigDigest: d("c3")}
	legacy := &Image{Names: []string{"registry.example:5000/tool:1"}, Platform: "linux/amd64", ConfigDigest: d("c4")}
	all := []*Image{debAmd, debArm, app, legacy}

	tests := []struct {
		name     string
		names    []string
		platform string
		want     []*Image
		wantErr  error
	}{
		{"everything", nil, "", all, nil},
		{"exact name", []string{"debian:sid"}, "", []*Image{debAmd, debArm}, nil},
		{"normalised name", []string{"docker.io/library/debian:sid"}, "", []*Image{debAmd, debArm}, nil},
		{"short name of full", []string{"app"}, "", []*Image{app}, nil},
		{"bare tag as written", []string{"latest"}, "", []*Image{app}, nil},
		{"registry with port", []string{"registry.example:5000/tool:1"}, "", []*Image{legacy}, nil},
		{"name and platform", []string{"debian:sid"}, "linux/arm64", []*Image{debArm}, nil},
		{"arm64 default variant", []string{"debian:sid"}, "linux/arm64/v8", []*Image{debArm}, nil},
		{"platform only", nil, "linux/amd64", []*Image{debAmd, legacy}, nil},
		{"manifest digest", []string{d("m2").String()}, "", []*Image{debArm}, nil},
		{"config digest prefix", []string{d("c4").Encoded()[:12]}, "", []*Image{legacy}, nil},
		{"prefix with algorithm", []string{"sha256:" + d("m3").Encoded()[:16]}, "", []*Image{app}, nil},
		{"index digest", []string{d("i1").String()}, "", []*Image{debAmd, debArm}, nil},
		{"two names", []string{"app", "debian:sid"}, "", []*Image{debAmd, debArm, app}, nil},
		{"prefix too short", []string{d("c4").Encoded()[:8]}, "", nil, ErrNoMatch},
		{"unknown name", []string{"ubuntu"}, "", nil, ErrNoMatch},
		{"one of two unknown", []string{"app", "ubuntu"}, "", nil, ErrNoMatch},
		{"platform absent", []string{"app"}, "linux/amd64", nil, ErrNoMatch},
		{"empty name", []string{""}, "", nil, ErrNoMatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Filter(all, tc.names, tc.platform)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), "available: debian:sid") {
					t.Errorf("error does not list what is available: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d images, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("image %d: %s@%s, want %s@%s", i, got[i].Ref(), got[i].Platform, tc.want[i].Ref(), tc.want[i].Platform)
				}
			}
		})
	}
}

func TestFilterAmbiguous(t *testing.T) {
	// Two digests sharing a 12-digit prefix.
	a := digest.Digest("sha256:" + strings.Repeat("a", 12) + strings.Repeat("0", 52))
	b := digest.Digest("sha256:" + strings.Repeat("a", 12) + strings.Repeat("1", 52))
	imgs := []*Image{{ManifestDigest: a, Platform: "linux/amd64"}, {ManifestDigest: b, Platform: "linux/amd64"}}
	if _, err := Filter(imgs, []string{strings.Repeat("a", 12)}, ""); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("err = %v, want ErrAmbiguous", err)
	}
	got, err := Filter(imgs, []string{strings.Repeat("a", 12) + "1"}, "")
	if err != nil || len(got) != 1 || got[0].ManifestDigest != b {
		t.Errorf("longer prefix: %v %v", got, err)
	}
}

func TestFilterBadPlatform(t *testing.T) {
	imgs := []*Image{{Names: []string{"x"}, Platform: "linux/amd64"}}
	for _, p := range []string{"linux", "linux/", "/amd64", "a/b/c/d"} {
		if _, err := Filter(imgs, nil, p); err == nil || errors.Is(err, ErrNoMatch) {
			t.Errorf("platform %q: err = %v, want a format error", p, err)
		}
	}
}

// reference is docker's reference grammar, simplified: domain[:port]/path[:tag].
var reference = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$`)

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"debian", "docker.io/library/debian:latest", "registry.example:5000/a/b:c@sha256:00", "localhost/x", ":", "@", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if s != "" && n == "" {
			t.Fatalf("Normalize(%q) is empty", s)
		}
		if reference.MatchString(s) {
			if nn := Normalize(n); nn != n {
				t.Fatalf("not idempotent: %q -> %q -> %q", s, n, nn)
			}
			if !strings.Contains(n, "/") || !strings.Contains(n[strings.LastIndex(n, "/"):], ":") {
				t.Fatalf("Normalize(%q) = %q lacks a domain or tag", s, n)
			}
		}
	})
}

func TestMatchContainer(t *testing.T) {
	docker := &Container{ID: "3f4e5d6c7b8a" + strings.Repeat("0", 52), Name: "web"}
	ctrd := &Container{ID: "web-1", Name: "web"}
	tests := []struct {
		c    *Container
		q    string
		want bool
	}{
		{docker, "web", true},
		{docker, "/web", true},
		{docker, "container:web", true},
		{docker, "3f4e5d6c7b8a", true},
		{docker, "3f4e5d6c", false}, // shorter than docker ps shows
		{docker, docker.ID, true},
		{ctrd, "web-1", true}, // containerd's IDs are any string
		{ctrd, "web-", false},
		{ctrd, "web", true},
	}
	for _, tc := range tests {
		if got := matchContainer(tc.c, tc.q); got != tc.want {
			t.Errorf("matchContainer(%s, %q) = %v, want %v", tc.c.ID, tc.q, got, tc.want)
		}
	}
}
