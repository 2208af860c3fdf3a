package image

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// rootfsSource is a Source that is a root filesystem of one member.
type rootfsSource struct{ r archive.RootFS }

func (s rootfsSource) Members() []archive.Member { return []archive.Member{s.r.Layer} }
func (s rootfsSource) Stat(name string) (archive.Member, bool) {
	return s.r.Layer, name == s.r.Layer.Name
}
func (s rootfsSource) Open(string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("")), nil
}
func (s rootfsSource) RootFS() (archive.RootFS, bool) { return s.r, true }

// A root filesystem is one image of one layer, named after the input, with
// no config, platform or history, and one informational record saying so.
func TestLoadRootFS(t *testing.T) {
	var left []string
	for i := range 10 {
		left = append(left, fmt.Sprintf("/run/s%d: a socket", i))
	}
	src := rootfsSource{archive.RootFS{Layer: archive.Member{Name: "host", Size: 4096}, Name: "host", LeftOut: left}}
	imgs, problems, err := Load(context.Background(), src, Options{})
	if err != nil || len(imgs) != 1 {
		t.Fatalf("Load: %d images, %v", len(imgs), err)
	}
	img := imgs[0]
	if img.Ref() != "host" || img.Platform != "" || img.ConfigDigest != "" || len(img.Layers) != 1 {
		t.Errorf("image %+v", img)
	}
	if l := img.Layers[0]; l.Blob != "host" || l.Size != 4096 || l.Digest != "" || l.DiffID != "" || l.CreatedBy != "" {
		t.Errorf("layer %+v", l)
	}
	if len(problems) != 1 || !problems[0].Informational() || problems[0].Kind != integrity.Unverifiable ||
		problems[0].Reason != integrity.NoLayerHistory || problems[0].Class() != "note" {
		t.Fatalf("problems %+v", problems)
	}
	d := problems[0].Detail
	if !strings.Contains(d, "unverifiable") || strings.Contains(d, "docker export") ||
		!strings.Contains(d, "10 left out of the layer: /run/s0: a socket") || strings.Contains(d, "/run/s8") || !strings.HasSuffix(d, "; …") {
		t.Errorf("detail %q", d)
	}
}
