package scan

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/internal/sched"
	"github.com/strata-forensics/strata/internal/testkit/builtin"
)

// TestWithDrift: the files an engine's layer folder holds beyond the
// layer are read by the detectors; their findings, marked, go into this
// input's copy of the layer's result, never the shared one; a file that
// cannot be read is a degraded note.
func TestWithDrift(t *testing.T) {
	const libPath = "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"
	lib := fixtureFile(t, "xz-planted.docker.tar", strings.TrimPrefix(libPath, "/"))
	_, eng := builtin.Engine(t, detect.Options{})
	r := &run{opts: Options{Engine: eng}, cpu: sched.New()}
	shared := &LayerResult{Blob: "layer",
		Detect:   &detect.LayerResult{Findings: []finding.Finding{{Rule: "other", Path: "/etc/x"}}},
		Problems: []integrity.Problem{{Blob: "layer", Kind: integrity.Drift, Detail: "drift: planted: " + libPath}}}
	files := []archive.Drifted{
		{Path: libPath, Size: int64(len(lib)), What: archive.DriftPlanted,
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(lib)), nil }},
		{Path: "/etc/gone", Size: 3, What: archive.DriftChanged,
			Open: func() (io.ReadCloser, error) { return nil, errors.New("no such file") }},
	}
	got := r.withDrift(context.Background(), shared, "layer", files)
	if len(shared.Detect.Findings) != 1 || len(shared.Problems) != 1 {
		t.Fatalf("the shared result changed: %+v", shared)
	}
	sum := sha256.Sum256(lib)
	var hit bool
	for _, f := range got.Detect.Findings {
		if f.Path == libPath && strings.HasPrefix(f.Rule, "xz-backdoor") {
			hit = true
			if f.Drift != archive.DriftPlanted || f.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("finding %+v: want drift planted, sha256 of the file", f)
			}
		}
	}
	if !hit || got.Detect.Findings[0].Rule != "other" {
		t.Errorf("findings %+v: want the layer's own and an xz-backdoor one on %s", got.Detect.Findings, libPath)
	}
	var note bool
	for _, p := range got.Problems {
		note = note || p.Kind == integrity.Degraded && strings.Contains(p.Detail, "/etc/gone was not read")
	}
	if !note || len(got.Problems) != 2 {
		t.Errorf("problems %v: want the layer's own and a note for /etc/gone", got.Problems)
	}
	if r.withDrift(context.Background(), shared, "layer", nil) != shared {
		t.Error("no files: the shared result is not kept as it is")
	}
}

// fixtureFile is file p of the layers of docker save archive name.
func fixtureFile(t *testing.T, name, p string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "fixtures", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no layer holds %s", name, p)
		}
		if !strings.HasSuffix(h.Name, "layer.tar") {
			continue
		}
		lr := tar.NewReader(tr)
		for {
			lh, err := lr.Next()
			if err != nil {
				break
			}
			if strings.TrimPrefix(lh.Name, "./") == p {
				b, _ := io.ReadAll(lr)
				return b
			}
		}
	}
}
