package detect

import (
	"fmt"
	"testing"

	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/rules"
)

// BenchmarkFileSinks feeds 1,000 ordinary files (text and non-ELF
// binaries, 64 KiB chunks as layer.Walk writes them) and 100 ELF files not
// named liblzma through a layer scan's sinks with the built-in rules: the
// per-file cost of detection on a typical layer, where nearly nothing is
// searched.
func BenchmarkFileSinks(b *testing.B) {
	set, err := rules.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	eng, err := New(set, Options{})
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = byte(i*7 + i>>8)
	}
	elf := append([]byte{0x7f, 'E', 'L', 'F'}, chunk[4:]...)
	type file struct {
		e    layer.Entry
		body []byte
	}
	var files []file
	for i := range 1100 {
		body := chunk
		if i >= 1000 {
			body = elf
		}
		files = append(files, file{layer.Entry{Path: fmt.Sprintf("/usr/lib/pkg%03d/f%05d", i%100, i), Type: layer.File, Size: 3 * int64(len(body))}, body})
	}
	b.SetBytes(int64(len(files)) * 3 * int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		ls := eng.NewLayerScan()
		for i := range files {
			f := &files[i]
			sinks := ls.Sinks(&f.e)
			for range 3 {
				for _, s := range sinks {
					s.Write(f.body)
				}
			}
			for _, s := range sinks {
				s.Done(&f.e, nil)
			}
		}
		if r := ls.Result(); len(r.Findings) != 0 {
			b.Fatalf("findings on clean files: %v", r.Findings)
		}
	}
}
