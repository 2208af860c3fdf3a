package scan_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/bench/synth"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/internal/testkit/builtin"
)

// writeBenchArchive writes a docker save archive holding one generated
// 64 MiB gzip layer (6,000 files) and returns its path and the layer.
func writeBenchArchive(b *testing.B) (string, *synth.Blob) {
	b.Helper()
	blob, err := synth.GzipLayer(64, 6000, 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	return writeArchive(b, blob.Digest.Encoded()+".tar.gz", blob.Gzip, blob.DiffID), blob
}

// writeArchive writes a docker save archive whose one layer is data under
// name.
func writeArchive(b *testing.B, layerName string, data []byte, diffID digest.Digest) string {
	b.Helper()
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{diffID}},
	})
	if err != nil {
		b.Fatal(err)
	}
	cfgName := digest.FromBytes(cfg).Encoded() + ".json"
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
	}{{cfgName, cfg}, {layerName, data}, {"manifest.json", manifest}} {
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
	return p
}

// BenchmarkScanGzipLayer is scan.Run end to end over an archive with one
// 64 MiB gzip layer: index, verify, decompress, walk, hash every file, run
// the built-in detectors and rebuild the tree. Compare with
// layer.BenchmarkGzipLayerLimit, the floor for the same bytes.
func BenchmarkScanGzipLayer(b *testing.B) {
	p, blob := writeBenchArchive(b)
	_, eng := builtin.Engine(b, detect.Options{})
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

// BenchmarkScanArchive scans the archives named by STRATA_BENCH_ARCHIVE
// (paths separated by the OS list separator, ':' on Unix; for instance
// .cache/bench/image.docker.tar from `make bench`) with the built-in
// detectors and one memo, as `strata scan A B ...` does, keeping every
// result until the end as the command does, to profile whole scans:
//
//	STRATA_BENCH_ARCHIVE=$PWD/.cache/bench/image.docker.tar \
//	  go test -run '^$' -bench ScanArchive -benchtime 1x -cpuprofile cpu.out ./forensics/scan
func BenchmarkScanArchive(b *testing.B) {
	paths := filepath.SplitList(os.Getenv("STRATA_BENCH_ARCHIVE"))
	if len(paths) == 0 {
		b.Skip("STRATA_BENCH_ARCHIVE not set")
	}
	_, eng := builtin.Engine(b, detect.Options{})
	b.ReportAllocs()
	for b.Loop() {
		memo := scan.NewMemo("")
		var results []*scan.Result
		for _, p := range paths {
			res, err := scan.Run(context.Background(), p, scan.Options{Engine: eng, Memo: memo})
			if err != nil {
				b.Fatal(err)
			}
			results = append(results, res)
		}
		for _, res := range results {
			res.Close()
		}
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
	_, eng := builtin.Engine(b, detect.Options{})
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

// BenchmarkScanUncompressedLayer is scan.Run over a Docker 25 style
// archive whose one 64 MiB layer is stored uncompressed under its digest:
// no decompression, the blob read in place.
func BenchmarkScanUncompressedLayer(b *testing.B) {
	blob, err := synth.GzipLayer(64, 6000, 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob.Gzip))
	if err != nil {
		b.Fatal(err)
	}
	raw, err := io.ReadAll(zr) // a 64 MiB benchmark input, bounded
	if err != nil {
		b.Fatal(err)
	}
	p := writeArchive(b, "blobs/sha256/"+blob.DiffID.Encoded(), raw, blob.DiffID)
	_, eng := builtin.Engine(b, detect.Options{})
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := scan.Run(context.Background(), p, scan.Options{Engine: eng})
		if err != nil {
			b.Fatal(err)
		}
		if !res.Integrity().OK || res.Images[0].Layers[0].Summary.DiffID != blob.DiffID {
			b.Fatalf("integrity %+v", res.Integrity())
		}
		res.Close()
	}
}
