package app_test

import (
	"context"
	"testing"

	"github.com/strata-forensics/strata/tui/app"
	"github.com/strata-forensics/strata/tui/internal/fake"
)

// Two images of one index share a name; the title tells them apart by
// platform, and I steps from one to the other.
func TestImagesByPlatform(t *testing.T) {
	amd, arm := fake.XZ(), fake.XZ()
	arm.Image.Platform = "linux/arm64/v8"
	load := func(ctx context.Context, progress func(app.Progress)) (*app.Session, error) {
		var imgs []app.Image
		for _, img := range []*fake.Image{amd, arm} {
			imgs = append(imgs, app.Image{Image: img.Image, Tree: img.Tree, Findings: img.Findings, Content: img.Content, Layers: img.Layers})
		}
		return &app.Session{Input: "multi.oci", Images: imgs}, nil
	}
	s := startWith(t, 110, 30, load)
	s.waitFor("strata explore example/xz:5.6.1 linux/amd64 (1/2, I: next)")
	s.keys("I")
	s.waitFor("strata explore example/xz:5.6.1 linux/arm64/v8 (2/2, I: next)")
	s.keys("I")
	s.waitFor("linux/amd64 (1/2, I: next)")
	s.final()
}
