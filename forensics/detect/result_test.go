package detect

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"weak"

	"github.com/strata-forensics/strata/forensics/layer"
)

// TestResultFreesScan: a layer's result does not keep its scan (and the
// scan's 64 KiB file head) alive: a registry holds thousands of layer
// results to its report, and kept 132 MB of heads for 2,000 layers.
func TestResultFreesScan(t *testing.T) {
	ls := builtinEngine(t, Options{}).NewLayerScan()
	blob := tarOf(t, []tfile{file("usr/lib/x86_64-linux-gnu/liblzma.so.5", append(append([]byte{}, elfMagic...), "not the backdoor"...))})
	if _, err := layer.Walk(context.Background(), bytes.NewReader(blob), layer.Options{Sinks: ls.Sinks}); err != nil {
		t.Fatal(err)
	}
	res := ls.Result()
	scan := weak.Make(ls)
	ls = nil
	for range 3 {
		runtime.GC()
	}
	if scan.Value() != nil {
		t.Error("the layer's scan is still reachable from its result")
	}
	runtime.KeepAlive(res)
}
