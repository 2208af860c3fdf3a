package tree

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/strata-forensics/strata/forensics/layer"
)

// Helpers build entries tersely: f("/a", "v1") is a file with content id v1.
func f(p, sum string) layer.Entry {
	return layer.Entry{Path: p, Type: layer.File, Mode: 0o644, SHA256: sum, Size: int64(len(sum))}
}
func d(p string) layer.Entry { return layer.Entry{Path: p, Type: layer.Dir, Mode: 0o755} }
func sl(p, target string) layer.Entry {
	return layer.Entry{Path: p, Type: layer.Symlink, Mode: 0o777, Link: target}
}
func hl(p, target string) layer.Entry {
	return layer.Entry{Path: p, Type: layer.Hardlink, Link: target}
}
func wh(p string) layer.Entry  { return layer.Entry{Path: p, Type: layer.Whiteout} }
func opq(p string) layer.Entry { return layer.Entry{Path: p, Type: layer.Opaque} }

// state summarises a node as "present intro mod del ops".
func state(n *Node) string {
	if n == nil {
		return "never"
	}
	var ops []string
	for _, c := range n.History {
		s := fmt.Sprintf("%s@%d", c.Op, c.Layer)
		if c.Implied {
			s += "(implied)"
		}
		ops = append(ops, s)
	}
	return fmt.Sprintf("present=%v intro=%d mod=%d del=%d %s", n.Present(), n.Introduced(), n.Modified(), n.Deleted(), strings.Join(ops, ","))
}

type provenanceCase struct {
	name   string
	layers [][]layer.Entry
	want   map[string]string
}

var provenanceCases = []provenanceCase{
	{
		name:   "add implies parents",
		layers: [][]layer.Entry{{f("/usr/lib/x", "a")}},
		want: map[string]string{
			"/usr":       "present=true intro=0 mod=0 del=-1 add@0(implied)",
			"/usr/lib/x": "present=true intro=0 mod=0 del=-1 add@0",
		},
	},
	{
		name: "modify content, mode and owner; identical re-emit is no change",
		layers: [][]layer.Entry{
			{d("/etc"), f("/etc/a", "1"), f("/etc/b", "1"), f("/etc/c", "1")},
			{d("/etc"), f("/etc/a", "2")},
			{{Path: "/etc/b", Type: layer.File, Mode: 0o600, SHA256: "1", Size: 1}},
			{{Path: "/etc/c", Type: layer.File, Mode: 0o644, UID: 1000, SHA256: "1", Size: 1}},
		},
		want: map[string]string{
			"/etc":   "present=true intro=0 mod=0 del=-1 add@0,same@1",
			"/etc/a": "present=true intro=0 mod=1 del=-1 add@0,modify@1",
			"/etc/b": "present=true intro=0 mod=2 del=-1 add@0,modify@2",
			"/etc/c": "present=true intro=0 mod=3 del=-1 add@0,modify@3",
		},
	},
	{
		name: "whiteout deletes a folder and everything below",
		layers: [][]layer.Entry{
			{d("/opt"), d("/opt/app"), f("/opt/app/bin", "x"), f("/opt/keep", "k")},
			{wh("/opt/app")},
		},
		want: map[string]string{
			"/opt/app":     "present=false intro=0 mod=0 del=1 add@0,delete@1",
			"/opt/app/bin": "present=false intro=0 mod=0 del=1 add@0,delete@1",
			"/opt/keep":    "present=true intro=0 mod=0 del=-1 add@0",
		},
	},
	{
		name: "opaque folder hides lower entries but not its own layer's",
		layers: [][]layer.Entry{
			{d("/var"), d("/var/cache"), f("/var/cache/old", "o"), f("/var/cache/both", "1")},
			{f("/var/cache/new", "n"), opq("/var/cache"), f("/var/cache/both", "2")},
		},
		want: map[string]string{
			"/var/cache":      "present=true intro=0 mod=0 del=-1 add@0,opaque@1",
			"/var/cache/old":  "present=false intro=0 mod=0 del=1 add@0,delete@1",
			"/var/cache/new":  "present=true intro=1 mod=1 del=-1 add@1",
			"/var/cache/both": "present=true intro=1 mod=1 del=-1 add@0,delete@1,add@1",
		},
	},
	{
		name: "whiteout and add of the same path in one layer: the add stays",
		layers: [][]layer.Entry{
			{f("/a", "1")},
			{f("/a", "2"), wh("/a")},
		},
		want: map[string]string{"/a": "present=true intro=1 mod=1 del=-1 add@0,delete@1,add@1"},
	},
	{
		name: "folder replaced by a file removes what was below",
		layers: [][]layer.Entry{
			{d("/x"), f("/x/y", "1")},
			{f("/x", "file")},
		},
		want: map[string]string{
			"/x":   "present=true intro=0 mod=1 del=-1 add@0,modify@1",
			"/x/y": "present=false intro=0 mod=0 del=1 add@0,delete@1",
		},
	},
	{
		name: "file replaced by a folder",
		layers: [][]layer.Entry{
			{f("/x", "file")},
			{f("/x/y", "1")},
		},
		want: map[string]string{
			"/x":   "present=true intro=1 mod=1 del=-1 add@0,delete@1,add@1(implied)",
			"/x/y": "present=true intro=1 mod=1 del=-1 add@1",
		},
	},
	{
		name: "re-add after delete has two lives",
		layers: [][]layer.Entry{
			{f("/tmp/p", "1")},
			{wh("/tmp/p")},
			{f("/tmp/p", "2")},
		},
		want: map[string]string{"/tmp/p": "present=true intro=2 mod=2 del=-1 add@0,delete@1,add@2"},
	},
	{
		name: "symlink target change is a modify",
		layers: [][]layer.Entry{
			{sl("/lib/l.so", "l.so.1")},
			{sl("/lib/l.so", "l.so.2")},
		},
		want: map[string]string{"/lib/l.so": "present=true intro=0 mod=1 del=-1 add@0,modify@1"},
	},
	{
		name: "duplicate entries in one layer: the last wins",
		layers: [][]layer.Entry{
			{f("/a", "1"), f("/a", "2")},
		},
		want: map[string]string{"/a": "present=true intro=0 mod=0 del=-1 add@0"},
	},
	{
		name: "deleting a path never seen changes nothing",
		layers: [][]layer.Entry{
			{f("/a", "1")},
			{wh("/ghost")},
		},
		want: map[string]string{"/ghost": "never", "/a": "present=true intro=0 mod=0 del=-1 add@0"},
	},
}

func TestProvenance(t *testing.T) {
	for _, tt := range provenanceCases {
		t.Run(tt.name, func(t *testing.T) {
			tr := New()
			for i, l := range tt.layers {
				tr.Apply(i, ptrs(l))
			}
			for p, want := range tt.want {
				if got := state(tr.Node(p)); got != want {
					t.Errorf("%s:\n got  %s\n want %s", p, got, want)
				}
			}
		})
	}
}

// build applies layers to a new tree.
func build(layers [][]layer.Entry) *Tree {
	tr := New()
	for i, l := range layers {
		tr.Apply(i, ptrs(l))
	}
	return tr
}

// dump renders every path's state and final content.
func dump(tr *Tree) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d paths, %d layers\n", tr.Len(), tr.Layers())
	tr.Walk("/", func(n *Node) bool {
		sum := "-"
		if e := n.Final(); e != nil {
			sum = e.SHA256
		}
		fmt.Fprintf(&b, "%s %s %s\n", n.Path(), state(n), sum)
		return true
	})
	return b.String()
}

// A fork shares its base's nodes; changing either never shows in the
// other. Every provenance case is split at every layer: the base and two
// forks of it go on with different layers, and each must equal a tree
// built from scratch with the same layers.
func TestFork(t *testing.T) {
	// other deletes everything, through an opaque root and whiteouts, and
	// rewrites every file: it changes every node a fork shares.
	other := func(layers [][]layer.Entry) []layer.Entry {
		es := []layer.Entry{opq("/"), f("/new/file", "n")}
		for _, l := range layers {
			for _, e := range l {
				if e.Type == layer.File {
					es = append(es, wh(e.Path), f(e.Path+".v2", "2"))
				}
			}
		}
		return es
	}
	for _, tt := range provenanceCases {
		for k := 1; k < len(tt.layers); k++ {
			t.Run(fmt.Sprintf("%s/at %d", tt.name, k), func(t *testing.T) {
				base := build(tt.layers[:k])
				before := dump(base)
				a, b := base.Fork(), base.Fork()
				rest := [][]layer.Entry{other(tt.layers)}
				for i, l := range tt.layers[k:] {
					a.Apply(k+i, ptrs(l))
				}
				b.Apply(k, ptrs(rest[0]))
				if got := dump(base); got != before {
					t.Fatalf("the base changed with its forks:\n got  %s\n want %s", got, before)
				}
				if got, want := dump(a), dump(build(tt.layers)); got != want {
					t.Fatalf("fork a:\n got  %s\n want %s", got, want)
				}
				wantB := dump(build(append(slices.Clone(tt.layers[:k]), rest...)))
				if got := dump(b); got != wantB {
					t.Fatalf("fork b:\n got  %s\n want %s", got, wantB)
				}
				// The base goes on too, and its forks do not see it.
				base.Apply(k, ptrs(rest[0]))
				if got := dump(base); got != wantB {
					t.Fatalf("base after its forks:\n got  %s\n want %s", got, wantB)
				}
				if got, want := dump(a), dump(build(tt.layers)); got != want {
					t.Fatalf("fork a after the base changed:\n got  %s\n want %s", got, want)
				}
			})
		}
	}
}

func TestHardlinks(t *testing.T) {
	tr := New()
	tr.Apply(0, ptrs([]layer.Entry{f("/bin/a", "sum-a")}))
	tr.Apply(1, ptrs([]layer.Entry{hl("/bin/b", "/bin/a")}))
	b := tr.Node("/bin/b").Final()
	if b.SHA256 != "sum-a" || b.Size != int64(len("sum-a")) {
		t.Fatalf("hardlink to a lower layer's file: sha256 %q size %d, want the target's", b.SHA256, b.Size)
	}
	// The layer's own entry is not changed: another image may share it.
	shared := []layer.Entry{hl("/bin/d", "/bin/a")}
	tr.Apply(2, ptrs(shared))
	if shared[0].SHA256 != "" || tr.Node("/bin/d").Final().SHA256 != "sum-a" {
		t.Fatalf("resolving a hardlink changed the shared layer entry (%q) or missed (%q)", shared[0].SHA256, tr.Node("/bin/d").Final().SHA256)
	}
	tr.Apply(2, ptrs([]layer.Entry{hl("/bin/c", "/nowhere")}))
	if c := tr.Node("/bin/c").Final(); c.SHA256 != "" {
		t.Fatalf("hardlink to nothing got content %q", c.SHA256)
	}
}

func TestFinalValue(t *testing.T) {
	tr := New()
	tr.Apply(0, ptrs([]layer.Entry{f("/a", "1")}))
	tr.Apply(1, ptrs([]layer.Entry{f("/a", "2")}))
	if got := tr.Node("/a").Final().SHA256; got != "2" {
		t.Fatalf("final content %q, want 2", got)
	}
	e, from, ok := tr.Node("/a").At(0)
	if !ok || from != 0 || e.SHA256 != "1" {
		t.Fatalf("At(0) = %v %d %v", e, from, ok)
	}
}

func TestHidden(t *testing.T) {
	tr := New()
	tr.Apply(0, ptrs([]layer.Entry{f("/a", "1"), f("/b", "1"), f("/c", "1")}))
	tr.Apply(1, ptrs([]layer.Entry{f("/a", "2"), wh("/b"), f("/c", "1")}))
	var got []string
	for _, h := range tr.Hidden() {
		got = append(got, fmt.Sprintf("%s@%d %s by %d", h.Path, h.Layer, h.Reason, h.By))
	}
	want := "/a@0 overwritten by 1,/b@0 deleted by 1"
	if strings.Join(got, ",") != want {
		t.Fatalf("Hidden() = %v, want %s", got, want)
	}
}

func TestWalkPrefixAndChildren(t *testing.T) {
	tr := New()
	tr.Apply(0, ptrs([]layer.Entry{f("/usr/bin/a", "1"), f("/usr/bin/b", "1"), f("/usr/binx", "1"), f("/etc/x", "1")}))
	var got []string
	tr.Walk("/usr/bin", func(n *Node) bool { got = append(got, n.Path()); return true })
	if strings.Join(got, " ") != "/usr/bin /usr/bin/a /usr/bin/b" {
		t.Fatalf("Walk(/usr/bin) = %v", got)
	}
	var kids []string
	for _, k := range tr.Children("/usr") {
		kids = append(kids, k.Path())
	}
	if strings.Join(kids, " ") != "/usr/bin /usr/binx" {
		t.Fatalf("Children(/usr) = %v", kids)
	}
}

// BenchmarkApply applies 100,000 files and then whiteouts for a tenth of
// them, in folder order as tars list them (grouped) and with every entry in
// another folder than the one before (interleaved).
func BenchmarkApply(b *testing.B) {
	for _, order := range []string{"grouped", "interleaved"} {
		b.Run(order, func(b *testing.B) {
			benchApply(b, func(i int) int {
				if order == "grouped" {
					return i / 200
				}
				return i % 500
			})
		})
	}
}

func benchApply(b *testing.B, folder func(int) int) {
	const n = 100_000
	entries := make([]layer.Entry, 0, n)
	for i := range n {
		entries = append(entries, f(fmt.Sprintf("/usr/share/d%03d/f%06d", folder(i), i), "x"))
	}
	wh := make([]layer.Entry, 0, n/10)
	for i := 0; i < n; i += 10 {
		wh = append(wh, layer.Entry{Path: entries[i].Path, Type: layer.Whiteout})
	}
	b.ReportAllocs()
	for b.Loop() {
		tr := New()
		tr.Apply(0, ptrs(entries))
		tr.Apply(1, ptrs(wh))
	}
}

// ptrs gives the entries as Walk hands them over.
func ptrs(es []layer.Entry) []*layer.Entry {
	out := make([]*layer.Entry, len(es))
	for i := range es {
		out[i] = &es[i]
	}
	return out
}

// Forks of one base change concurrently without a race: they copy what
// they change and only read what they share (run with -race).
func TestForksConcurrently(t *testing.T) {
	var base []layer.Entry
	for i := range 200 {
		base = append(base, f(fmt.Sprintf("/usr/lib/d%02d/f%03d", i%7, i), "base"))
	}
	tr := New()
	tr.Apply(0, ptrs(base))
	want := dump(tr)
	forks := make([]*Tree, 8)
	for i := range forks {
		forks[i] = tr.Fork()
	}
	var wg sync.WaitGroup
	for i, fk := range forks {
		wg.Go(func() {
			own := []layer.Entry{opq("/usr/lib/d03"), wh(fmt.Sprintf("/usr/lib/d%02d", i%7)), f(fmt.Sprintf("/usr/lib/d00/f%03d", i), "mine")}
			fk.Apply(1, ptrs(own))
			fk.Walk("/", func(*Node) bool { return true })
		})
	}
	wg.Wait()
	if got := dump(tr); got != want {
		t.Fatalf("the base changed under its forks:\n got  %s\n want %s", got, want)
	}
	for i, fk := range forks {
		own := []layer.Entry{opq("/usr/lib/d03"), wh(fmt.Sprintf("/usr/lib/d%02d", i%7)), f(fmt.Sprintf("/usr/lib/d00/f%03d", i), "mine")}
		if got, want := dump(fk), dump(build([][]layer.Entry{base, own})); got != want {
			t.Fatalf("fork %d:\n got  %s\n want %s", i, got, want)
		}
	}
}
