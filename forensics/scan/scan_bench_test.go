package scan_test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/fixtures/bench/synth"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/rules"
	"github.com/strata-forensics/strata/forensics/scan"
)

// writeBenchArchive writes a docker save archive holding one generated
// 64 MiB gzip layer (6,000 files) and returns its path and the layer.
func writeBenchArchive(b *testing.B) (string, *synth.Blob) {
	b.Helper()
	blob, err := synth.GzipLayer(64, 6000, 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{blob.DiffID}},
	})
	if err != nil {
		b.Fatal(err)
	}
	cfgName := digest.FromBytes(cfg).Encoded() + ".json"
	layerName := blob.Digest.Encoded() + ".tar.gz"
	manifest, err := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"bench:latest"}, "Layers": []string{layerName}}})
	if err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(b.TempDir(), "bench.docker.tar")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, m := range []struct {
		name string
		data []byte
	}{{cfgName, cfg}, {layerName, blob.Gzip}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: m.name, Size: int64(len(m.data)), Mode: 0o644}); err != nil {
			b.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			b.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p, blob
}

// BenchmarkScanGzipLayer is scan.Run end to end over an archive with one
// 64 MiB gzip layer: index, verify, decompress, walk, hash every file, run
// the built-in detectors and rebuild the tree. Compare with
// layer.BenchmarkGzipLayerLimit, the floor for the same bytes.
func BenchmarkScanGzipLayer(b *testing.B) {
	p, blob := writeBenchArchive(b)
	set, err := rules.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	eng, err := detect.New(set, detect.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(blob.TarSize)
	b.ReportAllocs()
	for b.Loop() {
		res, err := scan.Run(context.Background(), p, scan.Options{Engine: eng})
		if err != nil {
			b.Fatal(err)
		}
		if !res.Integrity().OK || len(res.Images) != 1 {
			b.Fatalf("integrity %+v, %d images", res.Integrity(), len(res.Images))
		}
		res.Close()
	}
}

// BenchmarkScanArchive scans the archive named by STRATA_BENCH_ARCHIVE (for
// instance .cache/bench/image.docker.tar from `make bench`) with the
// built-in detectors, to profile a whole scan:
//
//	STRATA_BENCH_ARCHIVE=$PWD/.cache/bench/image.docker.tar \
//	  go test -run '^$' -bench ScanArchive -benchtime 1x -cpuprofile cpu.out ./forensics/scan
func BenchmarkScanArchive(b *testing.B) {
	p := os.Getenv("STRATA_BENCH_ARCHIVE")
	if p == "" {
		b.Skip("STRATA_BENCH_ARCHIVE not set")
	}
	set, err := rules.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	eng, err := detect.New(set, detect.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := scan.Run(context.Background(), p, scan.Options{Engine: eng})
		if err != nil {
			b.Fatal(err)
		}
		res.Close()
	}
}

// BenchmarkScanFleetShared scans two archives holding the same digest-less
// 64 MiB layer (docker save names layers by no digest) with one memo, as
// `strata scan A B` does: the second input's layer is only hashed.
func BenchmarkScanFleetShared(b *testing.B) {
	p, blob := writeBenchArchive(b)
	q := filepath.Join(b.TempDir(), "copy.docker.tar")
	data, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(q, data, 0o644); err != nil {
		b.Fatal(err)
	}
	set, err := rules.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	eng, err := detect.New(set, detect.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(2 * blob.TarSize)
	b.ReportAllocs()
	for b.Loop() {
		memo := scan.NewMemo("")
		for _, in := range []string{p, q} {
			res, err := scan.Run(context.Background(), in, scan.Options{Engine: eng, Memo: memo})
			if err != nil {
				b.Fatal(err)
			}
			res.Close()
		}
	}
}
