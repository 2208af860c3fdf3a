package golden

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a testing.TB that keeps failures instead of failing the
// test running it; Fatal ends only Assert's goroutine, as it would a test.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	fatal  bool
}

func (r *recorder) Helper() {}

func (r *recorder) Name() string { return "TestX/case" }

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatal(args ...any) { r.fail(fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) { r.fail(fmt.Sprintf(format, args...)) }

func (r *recorder) fail(msg string) {
	r.mu.Lock()
	r.errors = append(r.errors, msg)
	r.fatal = true
	r.mu.Unlock()
	// What FailNow does: end the calling goroutine.
	runtime.Goexit()
}

// run runs f in its own goroutine so a Fatal ends only that.
func run(f func()) {
	var wg sync.WaitGroup
	wg.Go(f)
	wg.Wait()
}

func TestPath(t *testing.T) {
	if got, want := Path(&recorder{}), filepath.Join("testdata", "TestX", "case.golden"); got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
}

// setUpdate sets -update for one test, so these tests mean the same under
// go test -update.
func setUpdate(t *testing.T, v bool) {
	old := flag.Lookup("update").Value.String()
	if err := flag.Set("update", fmt.Sprint(v)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { flag.Set("update", old) })
	if Updating() != v {
		t.Fatalf("Updating() = %v after -update=%v", !v, v)
	}
}

func TestAssert(t *testing.T) {
	setUpdate(t, false)
	dir := t.TempDir()
	file := filepath.Join(dir, "a.golden")
	if err := os.WriteFile(file, []byte("one\ntwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		path   string
		got    string
		fatal  bool
		report string // in the one failure expected; "" for none
	}{
		{"same", file, "one\ntwo\n", false, ""},
		{"changed line", file, "one\nTWO\n", false, "a.golden differs (go test -update rewrites it after checking the change):\n--- want\n+++ got\n@@ -1,2 +1,2 @@\n one\n-two\n+TWO"},
		{"extra line", file, "one\ntwo\nthree\n", false, "@@ -1,2 +1,3 @@\n one\n two\n+three"},
		{"missing trailing newline", file, "one\ntwo", false, "-two\n+two\n\\ No newline at end of file"},
		{"missing file", filepath.Join(dir, "none.golden"), "x", true, "go test -update creates it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			run(func() { Assert(r, tc.path, []byte(tc.got)) })
			if r.fatal != tc.fatal {
				t.Errorf("fatal = %v, want %v", r.fatal, tc.fatal)
			}
			switch {
			case tc.report == "" && len(r.errors) != 0:
				t.Errorf("unexpected failure: %q", r.errors)
			case tc.report != "" && (len(r.errors) != 1 || !strings.Contains(r.errors[0], tc.report)):
				t.Errorf("failures %q, want one containing %q", r.errors, tc.report)
			}
		})
	}
}

func TestAssertUpdate(t *testing.T) {
	setUpdate(t, true)
	file := filepath.Join(t.TempDir(), "new", "b.golden")
	r := &recorder{}
	run(func() { Assert(r, file, []byte("fresh\n")) })
	if len(r.errors) != 0 {
		t.Fatalf("update failed: %q", r.errors)
	}
	b, err := os.ReadFile(file)
	if err != nil || string(b) != "fresh\n" {
		t.Fatalf("written %q, %v; want %q", b, err, "fresh\n")
	}
	// A file that already holds the output is left alone.
	old := time.Unix(1, 0)
	if err := os.Chtimes(file, old, old); err != nil {
		t.Fatal(err)
	}
	run(func() { Assert(r, file, []byte("fresh\n")) })
	if fi, err := os.Stat(file); err != nil || !fi.ModTime().Equal(old) || len(r.errors) != 0 {
		t.Fatalf("unchanged golden rewritten (%v, %v, %q)", fi.ModTime(), err, r.errors)
	}
}

func TestDiff(t *testing.T) {
	long := func(n int, change map[int]string) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			if c, ok := change[i]; ok {
				b.WriteString(c)
			} else {
				fmt.Fprintf(&b, "line %d\n", i)
			}
		}
		return b.String()
	}
	tests := []struct {
		name, want, got, diff string
	}{
		{"same", "a\n", "a\n", "(no difference)"},
		{"from empty", "", "a\n", "--- want\n+++ got\n@@ -0,0 +1,1 @@\n+a"},
		{"to empty", "a\nb\n", "", "--- want\n+++ got\n@@ -1,2 +0,0 @@\n-a\n-b"},
		{"no newline at end", "a\nb", "a\nb\n", "--- want\n+++ got\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b"},
		{
			"inserted line keeps the rest in step",
			long(10, nil), long(10, map[int]string{5: "new\nline 5\n"}),
			"--- want\n+++ got\n@@ -2,6 +2,7 @@\n line 2\n line 3\n line 4\n+new\n line 5\n line 6\n line 7",
		},
		{
			"two changes far apart, two hunks",
			long(30, nil), long(30, map[int]string{3: "THREE\n", 25: ""}),
			"--- want\n+++ got\n@@ -1,6 +1,6 @@\n line 1\n line 2\n-line 3\n+THREE\n line 4\n line 5\n line 6\n@@ -22,7 +22,6 @@\n line 22\n line 23\n line 24\n-line 25\n line 26\n line 27\n line 28",
		},
		{
			"close changes, one hunk",
			long(12, nil), long(12, map[int]string{3: "x\n", 8: "y\n"}),
			"--- want\n+++ got\n@@ -1,11 +1,11 @@\n line 1\n line 2\n-line 3\n+x\n line 4\n line 5\n line 6\n line 7\n-line 8\n+y\n line 9\n line 10\n line 11",
		},
		{"invisible differences quoted", "a \nb\x1b[1m\n", "a\nb\n", "--- want\n+++ got\n@@ -1,2 +1,2 @@\n-\"a \"\n-\"b\\x1b[1m\"\n+a\n+b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Diff([]byte(tc.want), []byte(tc.got)); got != tc.diff {
				t.Errorf("Diff =\n%s\nwant\n%s", got, tc.diff)
			}
		})
	}
}

// A long difference is cut, and files too big to pair line by line are
// still told apart.
func TestDiffBounded(t *testing.T) {
	var a, b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&a, "a%d\n", i)
		fmt.Fprintf(&b, "b%d\n", i)
	}
	d := Diff([]byte(a.String()), []byte(b.String()))
	if n := strings.Count(d, "\n"); n > diffMaxLines+5 || !strings.HasSuffix(d, "(diff cut at 60 lines)") || !strings.Contains(d, "\n-a0\n-a1\n") {
		t.Errorf("diff of %d lines:\n%s", n, d)
	}
	if d := Diff([]byte(strings.Repeat("x", 1000)+"\n"), []byte("y\n")); len(d) > 400 || !strings.Contains(d, "-xxx") || !strings.Contains(d, "…\n+y") {
		t.Errorf("a long line is shown whole or not at all:\n%s", d)
	}
}

func TestAssertView(t *testing.T) {
	setUpdate(t, false)
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.MkdirAll(filepath.Join("testdata", "TestX"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "TestX", "case.golden"), []byte("ab\ncd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, view string
		report     string
	}{
		{"styles and trailing blanks ignored", "\x1b[1mab\x1b[0m \ncd", ""},
		{"too wide", "ab\ncdef", "line 1 is 4 cells, more than 3"},
		{"too short", "ab", "view is 1 lines, want 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			run(func() { AssertView(r, tc.view, 3, 2) })
			switch {
			case tc.report == "" && len(r.errors) != 0:
				t.Errorf("unexpected failure: %q", r.errors)
			case tc.report != "" && (len(r.errors) == 0 || !strings.Contains(r.errors[0], tc.report)):
				t.Errorf("failures %q, want the first containing %q", r.errors, tc.report)
			}
		})
	}
}
