package scan

import (
	"fmt"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/tree"
)

// Images on one base built at once, as a fleet's inputs are once the
// base's walk they all waited for is done, build the base's tree once:
// every image's tree shares the base's nodes, and no image holds a copy
// of its own.
func TestBaseTreesBuildTheBaseOnce(t *testing.T) {
	files := func(dir string, n int) []*layer.Entry {
		es := []*layer.Entry{{Path: "/" + dir, Type: layer.Dir, Mode: 0o755}}
		for i := range n {
			es = append(es, &layer.Entry{Path: fmt.Sprintf("/%s/f%d", dir, i), Type: layer.File, Mode: 0o644})
		}
		return es
	}
	sum := func(name string, es []*layer.Entry) *layer.Summary {
		return &layer.Summary{DiffID: digest.FromString(name), Entries: es}
	}
	base := []*layer.Summary{sum("base0", files("usr", 2000)), sum("base1", files("etc", 2000))}
	const images = 12
	var b baseTrees
	trees := make([]*tree.Tree, images)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range images {
		wg.Go(func() {
			<-start
			top := sum(fmt.Sprint("top", i), files(fmt.Sprint("app", i), 10))
			trees[i] = b.build(append(base[:len(base):len(base)], top))
		})
	}
	close(start)
	wg.Wait()
	if len(b.chains) != 1 {
		t.Fatalf("%d chains kept, want the base's", len(b.chains))
	}
	for _, p := range []string{"/usr/f1999", "/etc/f0"} {
		want := trees[0].Node(p)
		if want == nil {
			t.Fatalf("%s: not in the first image's tree", p)
		}
		for i, tr := range trees[1:] {
			if got := tr.Node(p); got != want {
				t.Fatalf("image %d: %s is a node of its own, not the base's: the base was built again", i+1, p)
			}
		}
	}
	for i, tr := range trees {
		if tr.Node(fmt.Sprintf("/app%d/f9", i)) == nil || tr.Len() != 4000+2+11 {
			t.Fatalf("image %d: %d paths, want the base's and its own", i, tr.Len())
		}
	}
}
