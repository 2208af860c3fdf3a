package tree

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/layer"
)

// stateString summarises a State as "exists from intro op deletedBy sum".
func stateString(s State) string {
	sum := "-"
	if s.Entry != nil {
		sum = s.Entry.Type.String()
		if s.Entry.SHA256 != "" {
			sum = s.Entry.SHA256
		}
	}
	op := s.Op.String()
	if op == "" {
		op = "-"
	}
	return fmt.Sprintf("exists=%v from=%d intro=%d op=%s del=%d %s", s.Exists, s.From, s.Introduced, op, s.DeletedBy, sum)
}

func TestState(t *testing.T) {
	cases := []struct {
		name   string
		layers [][]layer.Entry
		path   string
		want   []string // by layer
	}{
		{
			name:   "added, modified, re-stated, deleted, added again",
			layers: [][]layer.Entry{{f("/a", "1")}, {f("/a", "2")}, {f("/a", "2")}, {wh("/a")}, {f("/a", "3")}},
			path:   "/a",
			want: []string{
				"exists=true from=0 intro=0 op=add del=-1 1",
				"exists=true from=1 intro=0 op=modify del=-1 2",
				// Same: the bytes are in layer 2's blob too, but the first copy is named.
				"exists=true from=1 intro=0 op=- del=-1 2",
				// Deleted: the last version stays, for showing what went.
				"exists=false from=1 intro=0 op=delete del=3 2",
				"exists=true from=4 intro=4 op=add del=-1 3",
			},
		},
		{
			name:   "before its first layer",
			layers: [][]layer.Entry{{f("/b", "1")}, {f("/a", "1")}},
			path:   "/a",
			want:   []string{"exists=false from=-1 intro=-1 op=- del=-1 -", "exists=true from=1 intro=1 op=add del=-1 1"},
		},
		{
			name:   "implied folder is no change of the layer's",
			layers: [][]layer.Entry{{f("/x/a", "1")}, {f("/x/b", "1")}},
			path:   "/x",
			want:   []string{"exists=true from=0 intro=0 op=- del=-1 dir", "exists=true from=0 intro=0 op=- del=-1 dir"},
		},
		{
			name:   "opaque marker counts as a modify",
			layers: [][]layer.Entry{{d("/v"), f("/v/a", "1")}, {opq("/v")}},
			path:   "/v",
			want:   []string{"exists=true from=0 intro=0 op=add del=-1 dir", "exists=true from=0 intro=0 op=modify del=-1 dir"},
		},
		{
			name:   "deleted and added again in one layer: the add",
			layers: [][]layer.Entry{{f("/a", "1")}, {f("/a", "2"), wh("/a")}},
			path:   "/a",
			want:   []string{"exists=true from=0 intro=0 op=add del=-1 1", "exists=true from=1 intro=1 op=add del=-1 2"},
		},
		{
			name:   "parent deleted",
			layers: [][]layer.Entry{{d("/p"), f("/p/a", "1")}, {wh("/p")}},
			path:   "/p/a",
			want:   []string{"exists=true from=0 intro=0 op=add del=-1 1", "exists=false from=0 intro=0 op=delete del=1 1"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := build(c.layers).Node(c.path)
			for idx, want := range c.want {
				s := n.State(idx)
				if got := stateString(s); got != want {
					t.Errorf("State(%d):\n got  %s\n want %s", idx, got, want)
				}
				// At is State for what exists.
				e, from, ok := n.At(idx)
				if ok != s.Exists || (ok && (e != s.Entry || from != s.From)) || (!ok && (e != nil || from != -1)) {
					t.Errorf("At(%d) = %v %d %v, State says %s", idx, e, from, ok, want)
				}
			}
		})
	}
}

func TestVersionBefore(t *testing.T) {
	tr := build([][]layer.Entry{
		{f("/a", "1")},
		{f("/a", "1")}, // re-stated: not a version of its own
		{sl("/a", "/elsewhere")},
		{f("/a", "3")},
		{wh("/a")},
		{f("/a", "5")},
	})
	n := tr.Node("/a")
	cases := []struct {
		before int
		want   string // "sum@layer" or "none"
	}{
		{0, "none"},
		{1, "1@0"},
		{2, "1@0"},
		{3, "1@0"}, // the symlink holds no bytes: passed over
		{4, "3@3"},
		{5, "3@3"}, // deleted since, its bytes still ship in layer 3
		{6, "5@5"},
		{-1, "none"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.before), func(t *testing.T) {
			got := "none"
			if e, from, ok := n.VersionBefore(c.before); ok {
				got = fmt.Sprintf("%s@%d", e.SHA256, from)
			}
			if got != c.want {
				t.Errorf("VersionBefore(%d) = %s, want %s", c.before, got, c.want)
			}
		})
	}
}

// resolveLayers is an image whose links point every way a hostile one can.
var resolveLayers = [][]layer.Entry{
	{ // 0
		d("/etc"), f("/etc/shadow", "image-shadow"), f("/etc/hostname", "host0"),
		d("/usr"), d("/usr/bin"), f("/usr/bin/tool", "tool"),
		f("/data/v", "v0"),
	},
	{ // 1
		sl("/rel", "etc/hostname"),
		sl("/abs", "/etc/hostname"),
		sl("/climb", "../../../../etc/shadow"),
		sl("/etc/climb", "../../../../../etc/hostname"),
		sl("/bin", "usr/bin"),
		sl("/dangling", "/no/such/file"),
		sl("/loop1", "loop2"), sl("/loop2", "loop1"),
		sl("/self", "self"),
		sl("/dirloop", "dirloop/x"),
		sl("/chain", "/chain1"), sl("/chain1", "/chain2"), sl("/chain2", "/etc/hostname"),
		sl("/tolink", "/bin/tool"),
		sl("/data/cur", "v"),
		hl("/hl-lower", "/usr/bin/tool"),
		f("/same-layer-target", "same"), hl("/hl-same", "/same-layer-target"),
		hl("/hl-nothing", "/no/such/target"),
		hl("/hl-climb", "../../../etc/hostname"),
		hl("/hl-a", "/hl-b"), hl("/hl-b", "/hl-a"),
		hl("/hl-chain", "/hl-lower"),
	},
	{ // 2: the folder link is retargeted, a file replaced
		sl("/bin", "/etc"),
		f("/etc/hostname", "host2"),
		wh("/data/v"),
	},
}

// linkTimes is an image whose hard links' targets change around them: a
// hard link names the file its target held when the link's layer made it.
var linkTimes = [][]layer.Entry{
	{ // 0
		f("/t/del-same", "a0"), f("/t/del-later", "b0"), f("/t/mod-later", "c0"),
		f("/t/del-before", "d0"), f("/t/readd", "e0"),
	},
	{wh("/t/del-before")}, // 1
	{ // 2
		hl("/l/del-same", "/t/del-same"), wh("/t/del-same"),
		hl("/l/del-later", "/t/del-later"),
		hl("/l/mod-later", "/t/mod-later"),
		hl("/l/del-before", "/t/del-before"),
		wh("/t/readd"), f("/t/readd", "e2"), hl("/l/readd", "/t/readd"),
		hl("/l/chain", "/l/del-same"),
	},
	{wh("/t/del-later"), f("/t/mod-later", "c3")}, // 3
}

// deep is a chain of n symlinks, /deep0 -> /deep1 -> ... -> /etc/hostname.
func deep(n int) []layer.Entry {
	var es []layer.Entry
	for i := range n {
		target := fmt.Sprintf("/deep%d", i+1)
		if i == n-1 {
			target = "/etc/hostname"
		}
		es = append(es, sl(fmt.Sprintf("/deep%d", i), target))
	}
	return es
}

func TestResolve(t *testing.T) {
	tr := build(resolveLayers)
	links := build(linkTimes)
	long := build([][]layer.Entry{{f("/etc/hostname", "h")}, deep(maxSymlinks)})
	tooLong := build([][]layer.Entry{{f("/etc/hostname", "h")}, deep(maxSymlinks + 1)})
	cases := []struct {
		name   string
		tree   *Tree
		path   string
		layer  int
		follow bool
		want   string // "path sum@from", "path absent", or "error"
	}{
		// Symbolic links, followed.
		{"relative symlink", tr, "/rel", -1, true, "/etc/hostname host2@2"},
		{"relative symlink as of a layer", tr, "/rel", 1, true, "/etc/hostname host0@0"},
		{"absolute symlink", tr, "/abs", -1, true, "/etc/hostname host2@2"},
		{"symlink climbing out of the root stops there", tr, "/climb", -1, true, "/etc/shadow image-shadow@0"},
		{"symlink in a folder climbing out", tr, "/etc/climb", -1, true, "/etc/hostname host2@2"},
		{"requested path climbing out", tr, "../../../etc/shadow", -1, true, "/etc/shadow image-shadow@0"},
		{"folder symlink mid-path", tr, "/bin/tool", 1, true, "/usr/bin/tool tool@0"},
		{"folder symlink retargeted later", tr, "/bin/hostname", -1, true, "/etc/hostname host2@2"},
		{"folder symlink before it exists", tr, "/bin/tool", 0, true, "/bin/tool absent"},
		{"symlink to a symlink", tr, "/tolink", 1, true, "/usr/bin/tool tool@0"},
		{"chain of symlinks", tr, "/chain", -1, true, "/etc/hostname host2@2"},
		{"dangling symlink", tr, "/dangling", -1, true, "/no/such/file absent"},
		{"symlink to a deleted file", tr, "/data/cur", -1, true, "/data/v absent"},
		{"symlink to a file before its delete", tr, "/data/cur", 1, true, "/data/v v0@0"},
		{"symlink loop", tr, "/loop1", -1, true, "error"},
		{"symlink to itself", tr, "/self", -1, true, "error"},
		{"symlink through itself", tr, "/dirloop", -1, true, "error"},
		{"symlink loop below a path", tr, "/loop1/x/y", -1, true, "error"},
		{"40 nested symlinks", long, "/deep0", -1, true, "/etc/hostname h@0"},
		{"41 nested symlinks", tooLong, "/deep0", -1, true, "error"},
		// Symbolic links, not followed.
		{"symlink itself", tr, "/rel", -1, false, "/rel symlink@1"},
		{"loop not followed", tr, "/loop1", -1, false, "/loop1 symlink@1"},
		{"folder symlink mid-path not followed", tr, "/bin/tool", -1, false, "/bin/tool absent"},
		// Hard links, always followed.
		{"hardlink to a lower layer", tr, "/hl-lower", -1, false, "/hl-lower tool@0"},
		{"hardlink in the same layer", tr, "/hl-same", -1, false, "/hl-same same@1"},
		{"hardlink to a hardlink", tr, "/hl-chain", -1, true, "/hl-chain tool@0"},
		{"hardlink to nothing is itself", tr, "/hl-nothing", -1, false, "/hl-nothing hardlink@1"},
		{"hardlink climbing out stops at the root", tr, "/hl-climb", 1, false, "/hl-climb host0@0"},
		{"hardlink keeps its target's bytes when a later layer rewrites it", tr, "/hl-climb", -1, false, "/hl-climb host0@0"},
		{"hardlink loop ends", tr, "/hl-a", -1, false, "/hl-a hardlink@1"},
		// Hard links name what their target held when their layer made them.
		{"hardlink to a target its own layer deletes", links, "/l/del-same", 2, false, "/l/del-same a0@0"},
		{"hardlink to a target its own layer deletes, later", links, "/l/del-same", -1, false, "/l/del-same a0@0"},
		{"hardlink to a hardlink to a deleted target", links, "/l/chain", -1, false, "/l/chain a0@0"},
		{"hardlink to a target a later layer deletes", links, "/l/del-later", -1, false, "/l/del-later b0@0"},
		{"hardlink to a target a later layer rewrites", links, "/l/mod-later", -1, false, "/l/mod-later c0@0"},
		{"the rewritten target itself", links, "/t/mod-later", -1, false, "/t/mod-later c3@3"},
		{"hardlink to a target deleted before it is to nothing", links, "/l/del-before", -1, false, "/l/del-before hardlink@2"},
		{"hardlink to a target its layer deletes and writes again", links, "/l/readd", -1, false, "/l/readd e2@2"},
		{"hardlink before its layer", links, "/l/del-same", 1, false, "/l/del-same absent"},
		// Layers and paths.
		{"layer past the top is the final filesystem", tr, "/etc/hostname", 9, false, "/etc/hostname host2@2"},
		{"root", tr, "/", -1, true, "/ absent"},
		{"never seen", tr, "/nope", -1, true, "/nope absent"},
		{"empty tree", New(), "/a", -1, true, "/a absent"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := c.tree.Resolve(c.path, c.layer, c.follow)
			var got string
			switch {
			case err != nil:
				got = "error"
				if !errors.Is(err, ErrTooManyLinks) || !strings.HasSuffix(err.Error(), ": too many levels of symbolic links") {
					t.Errorf("error %q, want ErrTooManyLinks naming the path", err)
				}
				if r.Entry != nil || r.From != -1 {
					t.Errorf("error with a result: %+v", r)
				}
			case r.Entry == nil:
				got = r.Path + " absent"
				if r.From != -1 {
					t.Errorf("absent, from layer %d", r.From)
				}
			default:
				sum := r.Entry.SHA256
				if sum == "" || r.Entry.Type == layer.Hardlink {
					sum = r.Entry.Type.String()
				}
				got = fmt.Sprintf("%s %s@%d", r.Path, sum, r.From)
			}
			if got != c.want {
				t.Errorf("Resolve(%q, %d, %v) = %s, want %s", c.path, c.layer, c.follow, got, c.want)
			}
		})
	}
}

func TestFollow(t *testing.T) {
	tr := build([][]layer.Entry{
		{f("/t", "x0"), sl("/s", "/t")},
		{hl("/h", "/t")},
		{wh("/h"), f("/t", "x2")},
	})
	show := func(e *layer.Entry, from int) string {
		switch {
		case e == nil:
			return fmt.Sprintf("nil@%d", from)
		case e.Type == layer.File:
			return fmt.Sprintf("%s@%d", e.SHA256, from)
		}
		return fmt.Sprintf("%s@%d", e.Type, from)
	}
	// A deleted hard link's last version still names its bytes, though
	// the path resolves to nothing after the delete.
	s := tr.Node("/h").State(2)
	if got := show(tr.Follow(s.Entry, s.From)); s.Exists || got != "x0@0" {
		t.Errorf("Follow(deleted link) = %s (exists %v), want x0@0", got, s.Exists)
	}
	if r, _ := tr.Resolve("/h", 2, false); r.Entry != nil {
		t.Errorf("Resolve(deleted link) = %s, want absent", show(r.Entry, r.From))
	}
	// Anything but a hard link is its own answer.
	for _, c := range []struct {
		e    *layer.Entry
		from int
		want string
	}{
		{nil, -1, "nil@-1"},
		{tr.Node("/t").Last(), 2, "x2@2"},
		{tr.Node("/s").Last(), 0, "symlink@0"},
	} {
		if got := show(tr.Follow(c.e, c.from)); got != c.want {
			t.Errorf("Follow(%s) = %s, want %s", show(c.e, c.from), got, c.want)
		}
	}
}

// FuzzResolve checks that no link graph, however hostile, makes Resolve
// hang, panic or leave the root.
func FuzzResolve(fz *testing.F) {
	fz.Add("a", "b", "../a", "/b/c", "/a/c")
	fz.Add("x", "x/y", "../../..", "x", "/x/x/x")
	fz.Add("l", "/", ".", "l/l", "l/l/l")
	fz.Fuzz(func(t *testing.T, a, b, ta, tb, p string) {
		a, b = path.Clean("/"+a), path.Clean("/"+b)
		if a == "/" || b == "/" {
			return // a layer walk never writes the root
		}
		tr := New()
		tr.Apply(0, ptrs([]layer.Entry{d("/d"), f("/d/f", "1")}))
		tr.Apply(1, ptrs([]layer.Entry{sl(a, ta), sl(b, tb), hl("/d/h", ta)}))
		r, err := tr.Resolve(p, -1, true)
		if err != nil {
			if !errors.Is(err, ErrTooManyLinks) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if path.Clean("/"+r.Path) != r.Path {
			t.Fatalf("resolved to %q, not a clean absolute path", r.Path)
		}
	})
}

func TestChanges(t *testing.T) {
	tr := build([][]layer.Entry{
		{d("/etc"), f("/etc/a", "1"), f("/etc/b", "1"), d("/v"), f("/v/x", "1")},
		{d("/etc"), f("/etc/a", "2"), wh("/etc/b"), f("/new/c", "1"), opq("/v")},
		// /n is added and, as a folder is needed where it stands, replaced
		// in one layer.
		{f("/n", "file"), f("/n/k", "1")},
	})
	cases := []struct {
		layer int
		want  []string // "op path before"
	}{
		{0, []string{"add /etc -", "add /etc/a -", "add /etc/b -", "add /v -", "add /v/x -"}},
		// Re-stated /etc and implied /new are no changes of the layer's.
		{1, []string{"modify /etc/a 1", "delete /etc/b 1", "add /new/c -", "opaque /v dir", "delete /v/x 1"}},
		// Before is what the layers below left, whatever the layer did first.
		{2, []string{"add /n -", "delete /n -", "add /n/k -"}},
		{3, nil},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.layer), func(t *testing.T) {
			var got []string
			for _, pc := range tr.Changes(c.layer) {
				before := "-"
				if e := pc.Before(); e != nil {
					before = e.SHA256
					if before == "" {
						before = e.Type.String()
					}
				}
				got = append(got, fmt.Sprintf("%s %s %s", pc.Change.Op, pc.Node.Path(), before))
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("Changes(%d):\n%s\nwant\n%s", c.layer, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// TestAbove: what a layer's folder holds at a path, in its tar or not, is
// what a container sees until a later layer writes the path, deletes it,
// or hides a folder above it.
func TestAbove(t *testing.T) {
	base := []layer.Entry{d("/usr"), d("/usr/lib"), f("/usr/lib/a", "1")}
	cases := []struct {
		name   string
		layers [][]layer.Entry
		path   string
		idx    int
		want   int
	}{
		{"nothing above", [][]layer.Entry{base, {f("/etc/x", "1")}}, "/usr/lib/a", 0, -1},
		{"never seen", [][]layer.Entry{base, {f("/etc/x", "1")}}, "/usr/lib/planted.so", 0, -1},
		{"never seen, no folder either", [][]layer.Entry{base}, "/opt/p/planted.so", 0, -1},
		{"modified", [][]layer.Entry{base, {f("/etc/x", "1")}, {f("/usr/lib/a", "2")}}, "/usr/lib/a", 0, 2},
		// Its own folder holds the copy a container sees.
		{"re-stated", [][]layer.Entry{base, {f("/usr/lib/a", "1")}}, "/usr/lib/a", 0, 1},
		{"deleted", [][]layer.Entry{base, {wh("/usr/lib/a")}}, "/usr/lib/a", 0, 1},
		{"written by a later layer", [][]layer.Entry{base, {f("/usr/lib/planted.so", "2")}}, "/usr/lib/planted.so", 0, 1},
		{"folder deleted", [][]layer.Entry{base, {f("/etc/x", "1")}, {wh("/usr/lib")}}, "/usr/lib/planted.so", 0, 2},
		{"folder opaque", [][]layer.Entry{base, {opq("/usr/lib")}}, "/usr/lib/planted.so", 0, 1},
		{"folder made a link", [][]layer.Entry{base, {sl("/usr/lib", "/lib")}}, "/usr/lib/planted.so", 0, 1},
		{"folder re-stated, a file added in it", [][]layer.Entry{base, {d("/usr/lib"), f("/usr/lib/b", "1")}}, "/usr/lib/planted.so", 0, -1},
		{"below idx", [][]layer.Entry{base, {wh("/usr/lib")}, {d("/usr/lib")}}, "/usr/lib/planted.so", 1, -1},
		{"the first of several", [][]layer.Entry{base, {f("/etc/x", "1")}, {opq("/usr")}, {wh("/usr/lib/a")}}, "/usr/lib/a", 0, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := build(c.layers).Above(c.path, c.idx); got != c.want {
				t.Errorf("Above(%s, %d) = %d, want %d", c.path, c.idx, got, c.want)
			}
		})
	}
}
