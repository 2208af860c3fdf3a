package docker

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-forensics/strata/forensics/engine"
)

// FuzzStore opens a Docker data root whose records are the fuzzer's: the
// repositories file, an image config, a layerdb record set and a
// container's config. Whatever they hold, opening and reading every
// member ends in records or errors, never a panic, a hang or a read
// outside the folder.
func FuzzStore(f *testing.F) {
	cfg := `{"rootfs":{"type":"layers","diff_ids":["sha256:f4952333797fdda6914a0e0a5e79d473d35b1b9f32c9c87cb7c06ef355a4094a"]}}`
	f.Add(`{"Repositories":{"a":{"a:1":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}}}`, cfg,
		"sha256:f4952333797fdda6914a0e0a5e79d473d35b1b9f32c9c87cb7c06ef355a4094a", "0000000000000000000000000000000000000000000000000000000000000001",
		`{"ID":"c","Name":"/web","Image":"sha256:00","Driver":"overlay2"}`)
	f.Add("{", "[", "", "../../../../etc", `{"Driver":"aufs"}`)
	f.Fuzz(func(t *testing.T, repos, config, diff, cacheID, container string) {
		root := t.TempDir()
		// The fuzzer's cache-id names a folder: it is made below root
		// only (os.Root), whatever it holds ("../..", a NUL).
		r, err := os.OpenRoot(root)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		write := func(p, s string) {
			r.MkdirAll(filepath.Dir(p), 0o755)
			r.WriteFile(p, []byte(s), 0o644)
		}
		const id = "1111111111111111111111111111111111111111111111111111111111111111"
		write("image/overlay2/repositories.json", repos)
		write("image/overlay2/imagedb/content/sha256/"+id, config)
		db := "image/overlay2/layerdb/sha256/f4952333797fdda6914a0e0a5e79d473d35b1b9f32c9c87cb7c06ef355a4094a/"
		write(db+"diff", diff)
		write(db+"cache-id", cacheID)
		write(db+"tar-split.json.gz", config)
		write("overlay2/"+cacheID+"/diff/etc/x", "x")
		write("containers/"+id+"/config.v2.json", container)
		write("image/overlay2/layerdb/mounts/"+id+"/mount-id", cacheID)
		s, err := Open(context.Background(), root)
		if err != nil || s == nil {
			return
		}
		defer s.Close()
		for _, m := range s.Members() {
			rc, err := s.Open(m.Name)
			if err != nil {
				continue
			}
			io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
			rc.Close()
			s.(*engine.Store).Checked(m.Name, false)
		}
		s.(*engine.Store).Catalog()
	})
}
