// Package fake builds small synthetic images for the explorer's tests and
// benchmarks: layer entry lists applied with tree.Apply, hand-made
// findings, content served from memory.
package fake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/tree"
	"github.com/strata-forensics/strata/tui/layers"
)

// Content serves file bytes by layer and path.
type Content map[string][]byte

func key(l int, p string) string { return fmt.Sprintf("%d:%s", l, p) }

// Open implements content.Opener.
func (c Content) Open(l int, e *layer.Entry) (io.ReadCloser, error) {
	b, ok := c[key(l, e.Path)]
	if !ok {
		return nil, fmt.Errorf("%s: not in layer %d", e.Path, l)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// Image is a synthetic image.
type Image struct {
	Image    *image.Image
	Tree     *tree.Tree
	Findings []finding.Finding
	Content  Content
	// Layers holds what reading each layer told, by layer index.
	Layers []layers.Facts
}

type builder struct {
	layers  [][]*layer.Entry
	content Content
}

func (b *builder) file(l int, p string, mode fs.FileMode, data string) {
	sum := sha256.Sum256([]byte(data))
	b.layers[l] = append(b.layers[l], &layer.Entry{Path: p, Type: layer.File, Mode: mode, Size: int64(len(data)),
		SHA256: hex.EncodeToString(sum[:])})
	b.content[key(l, p)] = []byte(data)
}

func (b *builder) add(l int, e layer.Entry) { b.layers[l] = append(b.layers[l], &e) }

func layerDigest(i int) digest.Digest {
	return digest.FromString(fmt.Sprintf("layer %d", i))
}

// XZ is a three-layer image: a base, a layer that plants a look-alike
// liblzma (and changes a config), and a layer that deletes a build script
// whose bytes still ship in layer 1's blob.
func XZ() *Image {
	b := &builder{layers: make([][]*layer.Entry, 3), content: Content{}}
	// Layer 0: base system.
	for _, d := range []string{"/bin", "/etc", "/usr", "/usr/bin", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/tmp"} {
		b.add(0, layer.Entry{Path: d, Type: layer.Dir, Mode: 0o755})
	}
	b.file(0, "/bin/sh", 0o755, "\x7fELF sh")
	b.file(0, "/etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\n")
	b.file(0, "/etc/app.conf", 0o644, "listen = 80\nlog = info\nworkers = 2\n")
	b.file(0, "/usr/bin/passwd", 0o755|fs.ModeSetuid, "\x7fELF passwd")
	b.file(0, "/usr/lib/x86_64-linux-gnu/libc.so.6", 0o755, "\x7fELF libc")
	// Layer 1: the planted library, a config change, a build script.
	b.file(1, "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1", 0o755, "\x7fELF\x02\x01\x01 look-alike liblzma 5.6.1 \x00\x01\x02")
	b.add(1, layer.Entry{Path: "/usr/lib/x86_64-linux-gnu/liblzma.so.5", Type: layer.Symlink, Mode: 0o777, Link: "liblzma.so.5.6.1"})
	b.file(1, "/etc/app.conf", 0o644, "listen = 8080\nlog = info\nworkers = 4\n")
	b.file(1, "/tmp/build.sh", 0o755, "#!/bin/sh\nmake install\n")
	// Layer 2: cleanup and the application.
	b.add(2, layer.Entry{Path: "/tmp/build.sh", Type: layer.Whiteout})
	b.add(2, layer.Entry{Path: "/app", Type: layer.Dir, Mode: 0o755})
	b.file(2, "/app/run.sh", 0o755, "#!/bin/sh\nexec /app/server\n")

	created := []string{
		"/bin/sh -c #(nop) ADD file:4b03b5f551e3fbdf in / ",
		"/bin/sh -c apt-get install -y xz-utils=5.6.1",
		"COPY run.sh /app/ # buildkit",
	}
	img := &image.Image{Names: []string{"example/xz:5.6.1"}, Platform: "linux/amd64",
		ManifestDigest: digest.FromString("manifest"), ConfigDigest: digest.FromString("config")}
	var facts []layers.Facts
	t := tree.New()
	for i, es := range b.layers {
		t.Apply(i, es)
		img.Layers = append(img.Layers, &image.Layer{Index: i, Digest: layerDigest(i), DiffID: digest.FromString(fmt.Sprintf("diff %d", i)),
			Size: int64(1000 * (i + 1) * 37), CreatedBy: created[i], Blob: fmt.Sprintf("blobs/sha256/%d", i)})
		facts = append(facts, layers.Facts{Entries: len(es)})
	}
	lib := t.Node("/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1").Final()
	fs := []finding.Finding{{
		Rule: "xz-liblzma-digest", Kind: finding.Digest, Severity: finding.Critical, Image: img.Ref(),
		Layer: 1, LayerDigest: layerDigest(1).String(), Path: lib.Path, SHA256: lib.SHA256, Present: true,
		Message: "liblzma 5.6.1 with a known-backdoored digest",
	}, {
		Rule: "xz-package-version", Kind: finding.Package, Severity: finding.High, Image: img.Ref(),
		Layer: 1, LayerDigest: layerDigest(1).String(), Path: "/etc/app.conf", Present: true,
		Message: "a configuration the planted build touched",
	}}
	return &Image{Image: img, Tree: t, Findings: fs, Content: b.content, Layers: facts}
}

// Big is an image of n files spread over folders and layers, for
// benchmarks.
func Big(n, nLayers int) *Image {
	es := make([][]*layer.Entry, nLayers)
	img := &image.Image{Names: []string{"example/big"}}
	perDir := 200
	for i := 0; i < n; i++ {
		l := i % nLayers
		p := fmt.Sprintf("/d%03d/s%03d/f%06d", i/(perDir*perDir)%1000, i/perDir%perDir, i)
		es[l] = append(es[l], &layer.Entry{Path: p, Type: layer.File, Mode: 0o644, Size: int64(i % 4096)})
	}
	var facts []layers.Facts
	t := tree.New()
	for i := range es {
		t.Apply(i, es[i])
		img.Layers = append(img.Layers, &image.Layer{Index: i, Digest: layerDigest(i)})
		facts = append(facts, layers.Facts{Entries: len(es[i])})
	}
	return &Image{Image: img, Tree: t, Layers: facts}
}

// Hostile is a one-layer image whose strings carry terminal control
// sequences (a title change, a colour, a screen clear) in a file name, a
// symlink target, the build command, the image name and a finding.
func Hostile() *Image {
	const seq = "\x1b]0;PWNED\x07\x1b[31mred\x1b[2J"
	b := &builder{layers: make([][]*layer.Entry, 1), content: Content{}}
	b.add(0, layer.Entry{Path: "/etc", Type: layer.Dir, Mode: 0o755})
	b.file(0, "/etc/evil"+seq, 0o644, "x\n")
	b.add(0, layer.Entry{Path: "/etc/link", Type: layer.Symlink, Mode: 0o777, Link: "evil" + seq})
	img := &image.Image{Names: []string{"evil/" + seq + ":latest"}, Platform: "linux/amd64",
		ManifestDigest: digest.FromString("hostile"), ConfigDigest: digest.FromString("hostile config")}
	t := tree.New()
	t.Apply(0, b.layers[0])
	img.Layers = append(img.Layers, &image.Layer{Index: 0, Digest: layerDigest(0), DiffID: layerDigest(0),
		Size: 1000, CreatedBy: "/bin/sh -c echo " + seq, Blob: "blobs/sha256/0"})
	fs := []finding.Finding{{Rule: "x-name", Kind: finding.Anomaly, Severity: finding.High, Image: img.Ref(),
		Layer: 0, LayerDigest: layerDigest(0).String(), Path: "/etc/evil" + seq, Present: true, Message: "named " + seq}}
	return &Image{Image: img, Tree: t, Findings: fs, Content: b.content, Layers: []layers.Facts{{Entries: len(b.layers[0])}}}
}

// Links is a three-layer image whose hard links outlive what their targets
// became: layer 1 links /h/old to /t/old and deletes /t/old, and links
// /h/mod to /t/mod, which layer 2 rewrites. Both links keep layer 0's
// bytes.
func Links() *Image {
	b := &builder{layers: make([][]*layer.Entry, 3), content: Content{}}
	b.add(0, layer.Entry{Path: "/t", Type: layer.Dir, Mode: 0o755})
	b.file(0, "/t/old", 0o644, "old bytes, deleted\n")
	b.file(0, "/t/mod", 0o644, "mod bytes, first\n")
	b.add(1, layer.Entry{Path: "/h", Type: layer.Dir, Mode: 0o755})
	b.add(1, layer.Entry{Path: "/h/old", Type: layer.Hardlink, Mode: 0o644, Link: "/t/old"})
	b.add(1, layer.Entry{Path: "/t/old", Type: layer.Whiteout})
	b.add(1, layer.Entry{Path: "/h/mod", Type: layer.Hardlink, Mode: 0o644, Link: "/t/mod"})
	b.file(2, "/t/mod", 0o644, "mod bytes, rewritten\n")
	img := &image.Image{Names: []string{"example/links"}, Platform: "linux/amd64",
		ManifestDigest: digest.FromString("links"), ConfigDigest: digest.FromString("links config")}
	var facts []layers.Facts
	t := tree.New()
	for i, es := range b.layers {
		t.Apply(i, es)
		img.Layers = append(img.Layers, &image.Layer{Index: i, Digest: layerDigest(i), DiffID: layerDigest(i),
			Size: 1000, Blob: fmt.Sprintf("blobs/sha256/%d", i)})
		facts = append(facts, layers.Facts{Entries: len(es)})
	}
	return &Image{Image: img, Tree: t, Content: b.content, Layers: facts}
}
