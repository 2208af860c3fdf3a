package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
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

// assert runs Assert in its own goroutine so a Fatal ends only that.
func assert(r *recorder, path string, got []byte) {
	var wg sync.WaitGroup
	wg.Go(func() { Assert(r, path, got) })
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
	old := *update
	*update = v
	t.Cleanup(func() { *update = old })
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
		{"changed line", file, "one\nTWO\n", false, "line 2:\n  want: two\n  got:  TWO"},
		{"extra line", file, "one\ntwo\nthree\n", false, "line 3:\n  want: \n  got:  three"},
		{"missing trailing newline", file, "one\ntwo", false, "want 3 lines, got 2"},
		{"missing file", filepath.Join(dir, "none.golden"), "x", true, "go test -update creates it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			assert(r, tc.path, []byte(tc.got))
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
	assert(r, file, []byte("fresh\n"))
	if len(r.errors) != 0 {
		t.Fatalf("update failed: %q", r.errors)
	}
	b, err := os.ReadFile(file)
	if err != nil || string(b) != "fresh\n" {
		t.Fatalf("written %q, %v; want %q", b, err, "fresh\n")
	}
}
