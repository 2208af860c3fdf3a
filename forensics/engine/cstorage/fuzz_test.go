package cstorage

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-forensics/strata/forensics/engine"
)

// FuzzStore opens a containers/storage graph root whose records are the
// fuzzer's: images.json, layers.json and containers.json (and
// volatile-containers.json, the same). Whatever they
// hold, opening and reading every member ends in records or errors, never
// a panic, a hang or a read outside the folder.
func FuzzStore(f *testing.F) {
	const id = "1111111111111111111111111111111111111111111111111111111111111111"
	f.Add(`[{"id":"`+id+`","names":["a:1"],"layer":"`+id+`","big-data-names":["sha256:`+id+`"]}]`,
		`[{"id":"`+id+`","diff-digest":"sha256:`+id+`"}]`, `[{"id":"c","names":["web"],"image":"`+id+`","layer":"`+id+`"}]`)
	f.Add("{", `[{"id":"../../etc","parent":"../../etc"}]`, `[{"layer":"../.."}]`)
	f.Add(`[{"id":"`+id+`","layer":"a"}]`, `[{"id":"a","parent":"a"}]`, "[]")
	// CRI-O's: an infra container and one of its pod.
	f.Add(`[{"id":"`+id+`","layer":"`+id+`","big-data-names":["sha256:`+id+`"]}]`, `[{"id":"`+id+`","diff-digest":"sha256:`+id+`"}]`,
		`[{"id":"p","names":["k8s_POD_a_b_u_0","k8s_a_b_u_0"],"image":"`+id+`","layer":"`+id+`","metadata":"{\"pod-name\":\"k8s_a_b_u_0\",\"pod-id\":\"p\",\"name\":\"k8s_POD_a_b_u_0\",\"metadata-name\":\"a\",\"namespace\":\"b\",\"pod\":true}"},`+
			`{"id":"`+id+`","names":["k8s_c_a_b_u_0"],"image":"`+id+`","layer":"`+id+`","metadata":"{\"pod-name\":\"k8s_a_b_u_0\",\"pod-id\":\"p\",\"name\":\"k8s_c__b_u_0\",\"created-at\":-1}"}]`)
	f.Fuzz(func(t *testing.T, images, layers, containers string) {
		root := t.TempDir()
		write := func(p, s string) {
			p = filepath.Join(root, p)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(s), 0o644)
		}
		write("overlay-images/images.json", images)
		write("overlay-layers/layers.json", layers)
		write("overlay-containers/containers.json", containers)
		write("overlay-containers/volatile-containers.json", containers)
		write("overlay-layers/"+id+".tar-split.gz", layers)
		write("overlay/"+id+"/diff/etc/x", "x")
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
