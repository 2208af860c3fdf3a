package main

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"
)

// runDockerStore is the yardstick for a Docker data root (overlay2): the
// least work any tool must do to vouch for every file of its images with
// no daemon. For each image's config in imagedb it follows the chain IDs
// to layerdb, rebuilds each distinct layer's tar from its tar-split and
// diff folder (tar-split's own assembler), checks the tar against the
// diff_id, sha256-hashes every regular file and looks at every entry of
// the diff folder once (for files a rebuild does not list), on all cores;
// with
// -custody it also hashes every metadata file it read. Nothing else: no
// drift walk, no containers, no detection.
func runDockerStore(root string) (files, layers int64, err error) {
	ids, err := os.ReadDir(filepath.Join(root, "image/overlay2/imagedb/content/sha256"))
	if err != nil {
		return 0, 0, err
	}
	type job struct{ chain, diffID string }
	var jobs []job
	seen := map[string]bool{}
	for _, id := range ids {
		b, err := os.ReadFile(filepath.Join(root, "image/overlay2/imagedb/content/sha256", id.Name()))
		if err != nil {
			return 0, 0, err
		}
		var cfg struct {
			RootFS struct {
				DiffIDs []digest.Digest `json:"diff_ids"`
			} `json:"rootfs"`
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			return 0, 0, err
		}
		var chain digest.Digest
		for i, d := range cfg.RootFS.DiffIDs {
			if i == 0 {
				chain = d
			} else {
				chain = digest.FromString(chain.String() + " " + d.String())
			}
			if !seen[chain.Encoded()] {
				seen[chain.Encoded()] = true
				jobs = append(jobs, job{chain.Encoded(), d.String()})
			}
		}
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			n, err := storeLayer(root, j.chain, j.diffID)
			mu.Lock()
			defer mu.Unlock()
			files += n
			if err != nil {
				errs = append(errs, fmt.Errorf("layer %s: %w", j.chain, err))
			}
		}()
	}
	wg.Wait()
	return files, int64(len(jobs)), errors.Join(errs...)
}

func storeLayer(root, chain, diffID string) (int64, error) {
	db := filepath.Join(root, "image/overlay2/layerdb/sha256", chain)
	cacheID, err := os.ReadFile(filepath.Join(db, "cache-id"))
	if err != nil {
		return 0, err
	}
	ts, err := os.Open(filepath.Join(db, "tar-split.json.gz"))
	if err != nil {
		return 0, err
	}
	defer ts.Close()
	if *custody {
		for _, f := range []string{"diff", "cache-id", "parent", "size", "tar-split.json.gz"} {
			if g, err := os.Open(filepath.Join(db, f)); err == nil {
				hashFile(g)
				g.Close()
			}
		}
		ts.Seek(0, io.SeekStart)
	}
	zr, err := gzip.NewReader(ts)
	if err != nil {
		return 0, err
	}
	pr, pw := io.Pipe()
	go func() {
		getter := storage.NewPathFileGetter(filepath.Join(root, "overlay2", strings.TrimSpace(string(cacheID)), "diff"))
		pw.CloseWithError(asm.WriteOutputTarStream(getter, storage.NewJSONUnpacker(zr), pw))
	}()
	defer pr.Close()
	// The rebuilt tar is an uncompressed blob: its own sha256 is its
	// diff_id, checked by layer.
	n, err := layer(pr, layerJob{name: "layerdb/" + chain + "/tar", diffID: diffID})
	if err != nil {
		return n, err
	}
	// A rebuild vouches for the files the tar-split lists, not for the
	// folder: one look at each of its entries (what a file planted after
	// the pull would be seen by) is part of the least work too.
	diff := filepath.Join(root, "overlay2", strings.TrimSpace(string(cacheID)), "diff")
	return n, filepath.WalkDir(diff, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		_, err = d.Info()
		return err
	})
}
