package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWrite(t *testing.T) {
	boom := errors.New("disk full")
	for _, tc := range []struct {
		name     string
		before   string // "" for no file
		fill     func(io.Writer) error
		want     string // content after; "" for no file
		wantErr  error
		wantMode os.FileMode
	}{
		{name: "new", fill: func(w io.Writer) error { _, err := io.WriteString(w, "report"); return err }, want: "report", wantMode: 0o644},
		{name: "replaces", before: "old", fill: func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }, want: "new", wantMode: 0o644},
		{name: "fails-new", fill: func(w io.Writer) error { io.WriteString(w, "half"); return boom }, wantErr: boom},
		{name: "fails-keeps-old", before: "old", fill: func(w io.Writer) error { io.WriteString(w, "half"); return boom }, want: "old", wantErr: boom, wantMode: 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "report.json")
			if tc.before != "" {
				if err := os.WriteFile(p, []byte(tc.before), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := Write(p, 0o644, tc.fill)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			b, rerr := os.ReadFile(p)
			switch {
			case tc.want == "" && rerr == nil:
				t.Errorf("%s left behind (%q)", p, b)
			case tc.want != "" && string(b) != tc.want:
				t.Errorf("content %q, want %q (%v)", b, tc.want, rerr)
			}
			if tc.want != "" {
				if st, _ := os.Stat(p); st.Mode().Perm() != tc.wantMode {
					t.Errorf("mode %v, want %v", st.Mode().Perm(), tc.wantMode)
				}
			}
			files := 0
			if tc.want != "" {
				files = 1
			}
			if n := entries(t, dir); len(n) != files {
				t.Errorf("folder holds %v, want %d file (no temporary left)", n, files)
			}
		})
	}
}

func TestDir(t *testing.T) {
	boom := errors.New("disk full")
	write := func(tmp string) error { return os.WriteFile(filepath.Join(tmp, "SHA256SUMS"), []byte("x"), 0o444) }
	t.Run("complete", func(t *testing.T) {
		parent := t.TempDir()
		dest := filepath.Join(parent, "case")
		if err := Dir(dest, write); err != nil {
			t.Fatal(err)
		}
		if n := entries(t, parent); len(n) != 1 || n[0] != "case" {
			t.Errorf("parent holds %v", n)
		}
		if _, err := os.Stat(filepath.Join(dest, "SHA256SUMS")); err != nil {
			t.Error(err)
		}
	})
	t.Run("empty-folder-replaced", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "case")
		if err := os.Mkdir(dest, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := Dir(dest, write); err != nil {
			t.Fatal(err)
		}
		if n := entries(t, dest); len(n) != 1 {
			t.Errorf("dest holds %v", n)
		}
	})
	t.Run("not-empty-refused", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "case")
		if err := os.MkdirAll(filepath.Join(dest, "other"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := Dir(dest, write); !errors.Is(err, ErrExists) {
			t.Fatalf("err = %v, want ErrExists", err)
		}
		if n := entries(t, dest); len(n) != 1 || n[0] != "other" {
			t.Errorf("dest changed: %v", n)
		}
	})
	t.Run("fails", func(t *testing.T) {
		parent := t.TempDir()
		dest := filepath.Join(parent, "case")
		err := Dir(dest, func(tmp string) error {
			if err := os.WriteFile(filepath.Join(tmp, "report.json"), []byte("{"), 0o444); err != nil {
				t.Fatal(err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if n := entries(t, parent); len(n) != 0 {
			t.Errorf("a failed folder left %v", n)
		}
	})
}
