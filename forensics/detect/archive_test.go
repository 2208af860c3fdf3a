package detect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func arOf(members ...[2]string) []byte {
	var b bytes.Buffer
	b.WriteString(arMagic)
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12s%-6s%-6s%-8s%-10d`\n", m[0], "0", "0", "0", "100644", len(m[1]))
		b.WriteString(m[1])
		if len(m[1])%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func cpioOf(members ...[2]string) []byte {
	var b bytes.Buffer
	write := func(name, body string, mode int) {
		fmt.Fprintf(&b, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x", 1, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(name)+1, 0)
		b.WriteString(name)
		b.WriteByte(0)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.WriteString(body)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	for _, m := range members {
		write(m[0], m[1], 0o100644)
	}
	write("TRAILER!!!", "", 0)
	return b.Bytes()
}

func readAr(data []byte) (string, error) {
	ar := newArReader(bytes.NewReader(data))
	var out []string
	for {
		h, err := ar.Next()
		if err == io.EOF {
			return strings.Join(out, ","), nil
		}
		if err != nil {
			return strings.Join(out, ","), err
		}
		b, err := io.ReadAll(ar)
		if err != nil {
			return strings.Join(out, ","), err
		}
		out = append(out, h.Name+"="+string(b))
	}
}

func readCpio(data []byte) (string, error) {
	cr := newCpioReader(bytes.NewReader(data))
	var out []string
	for {
		h, err := cr.Next()
		if err == io.EOF {
			return strings.Join(out, ","), nil
		}
		if err != nil {
			return strings.Join(out, ","), err
		}
		b, err := io.ReadAll(cr)
		if err != nil {
			return strings.Join(out, ","), err
		}
		out = append(out, h.Name+"="+string(b))
	}
}

func TestArReader(t *testing.T) {
	good := arOf([2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar.xz", "odd"}, [2]string{"data.tar.xz", "even"})
	cases := []struct {
		name, want, err string
		data            []byte
	}{
		{"members with padding", "debian-binary=2.0\n,control.tar.xz=odd,data.tar.xz=even", "", good},
		{"empty archive", "", "", []byte(arMagic)},
		{"no magic", "", "no ar magic", []byte("!<arch>X")},
		{"truncated member", "debian-binary=2.0\n,control.tar.xz=odd", "truncated", good[:len(good)-2]},
		{"bad size", "", "bad member size", []byte(arMagic + "x               0           0     0     100644  -5        `\n")},
		{"bad terminator", "", "terminator", []byte(arMagic + "x               0           0     0     100644  5         X\n")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readAr(c.data)
			if got != c.want {
				t.Errorf("members %q, want %q", got, c.want)
			}
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Errorf("error %v, want %q", err, c.err)
			}
			if err != nil && !errors.Is(err, ErrFormat) {
				t.Errorf("error does not wrap ErrFormat: %v", err)
			}
		})
	}
}

func TestCpioReader(t *testing.T) {
	good := cpioOf([2]string{"./usr/lib/liblzma.so.5", "abcde"}, [2]string{"./etc/x", "12"})
	cases := []struct {
		name, want, err string
		data            []byte
	}{
		{"members", "./usr/lib/liblzma.so.5=abcde,./etc/x=12", "", good},
		{"odc refused", "", "only newc", []byte("070707" + strings.Repeat("0", 104))},
		{"truncated trailer", "./usr/lib/liblzma.so.5=abcde,./etc/x=12", "truncated", good[:len(good)-40]},
		{"truncated member", "./usr/lib/liblzma.so.5=abcde", "truncated", good[:len(good)-130]},
		{"bad hex", "", "bad header field", append([]byte("070701zzzzzzzz"), make([]byte, 96)...)},
		{"huge name", "", "name size", []byte(fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1<<20, 0))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readCpio(c.data)
			if got != c.want {
				t.Errorf("members %q, want %q", got, c.want)
			}
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Errorf("error %v, want %q", err, c.err)
			}
		})
	}
}

func seed(f *testing.F, glob string, extra ...[]byte) {
	ms, _ := filepath.Glob(glob)
	for _, m := range ms {
		if b, err := os.ReadFile(m); err == nil {
			f.Add(b)
		}
	}
	for _, b := range extra {
		f.Add(b)
	}
}

func FuzzArReader(f *testing.F) {
	seed(f, "testdata/*.deb", arOf([2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar.gz", "x"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := readAr(b)
		if err != nil && !errors.Is(err, ErrFormat) {
			t.Fatalf("error without ErrFormat: %v", err)
		}
	})
}

func FuzzCpioReader(f *testing.F) {
	seed(f, "testdata/*.cpio", cpioOf([2]string{"./a", "hello"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := readCpio(b)
		if err != nil && !errors.Is(err, ErrFormat) {
			t.Fatalf("error without ErrFormat: %v", err)
		}
	})
}
