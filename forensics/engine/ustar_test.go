package engine

import (
	"archive/tar"
	"bytes"
	"fmt"
	"strings"
	"testing"

	splittar "github.com/vbatts/tar-split/archive/tar"
)

// FuzzUstarHeader holds ustarHeader to tar-split's reader: whatever block
// it accepts, the reader reads the same name, type, mode, owner and
// padding from.
func FuzzUstarHeader(f *testing.F) {
	long := strings.Repeat("d/", 60) + "file"
	for _, h := range []*tar.Header{
		{Name: "etc/motd", Typeflag: tar.TypeReg, Mode: 0o644, Size: 6, Format: tar.FormatUSTAR},
		{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 1000, Gid: 1000, Format: tar.FormatUSTAR},
		{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "dash", Mode: 0o777, Format: tar.FormatUSTAR},
		{Name: "etc/motd2", Typeflag: tar.TypeLink, Linkname: "etc/motd", Size: 0, Format: tar.FormatUSTAR},
		{Name: long, Typeflag: tar.TypeReg, Mode: 0o4755, Size: 513, Format: tar.FormatUSTAR},
		{Name: "dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666, Format: tar.FormatUSTAR},
		{Name: "x", Typeflag: tar.TypeReg, Size: 1, Format: tar.FormatGNU},
		{Name: "é", Typeflag: tar.TypeReg, Size: 1, Format: tar.FormatPAX},
	} {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		if err := tw.WriteHeader(h); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes()[:blockSize])
	}
	f.Fuzz(func(t *testing.T, block []byte) {
		got, ok := ustarHeader(block)
		if !ok {
			return
		}
		tr := splittar.NewReader(bytes.NewReader(block))
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("ustarHeader read %+v, the reader: %v", got, err)
		}
		want := header{name: h.Name, typ: h.Typeflag, mode: h.Mode, uid: h.Uid, gid: h.Gid, size: tr.ExpectedPadding()}
		got.size = (blockSize - got.size%blockSize) % blockSize
		if got != want {
			t.Fatalf("ustarHeader read %+v, the reader %+v", got, want)
		}
	})
}

// TestUstarHeaderTakes: the headers a layer is made of are read by the
// fast path (the fuzz target checks that it reads them right).
func TestUstarHeaderTakes(t *testing.T) {
	for _, h := range []*tar.Header{
		{Name: "etc/motd", Typeflag: tar.TypeReg, Mode: 0o644, Size: 6, Format: tar.FormatUSTAR},
		{Name: strings.Repeat("d/", 60) + "file", Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatUSTAR},
		{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatUSTAR},
	} {
		var b bytes.Buffer
		tar.NewWriter(&b).WriteHeader(h)
		got, ok := ustarHeader(b.Bytes())
		if !ok || got.name != h.Name || got.mode != h.Mode {
			t.Errorf("%s: ustarHeader = %+v, %v", h.Name, got, ok)
		}
	}
}

// TestUstarHeaderRefusesWhatTheReaderRefuses: a header whose modification
// time or device number is not a number is refused by the reader, so it is
// left to the reader (found by FuzzUstarHeader).
func TestUstarHeaderRefusesWhatTheReaderRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		at   int
	}{{"mtime", 136}, {"devmajor", 329}, {"devminor", 337}} {
		var b bytes.Buffer
		tar.NewWriter(&b).WriteHeader(&tar.Header{Name: "etc/motd", Typeflag: tar.TypeReg, Mode: 0o644, Size: 6, Format: tar.FormatUSTAR})
		block := b.Bytes()[:blockSize]
		block[c.at] = '9' // not an octal digit
		sum := 0
		for i, x := range block {
			if i >= 148 && i < 156 {
				x = ' '
			}
			sum += int(x)
		}
		copy(block[148:156], fmt.Sprintf("%06o\x00 ", sum))
		if _, err := splittar.NewReader(bytes.NewReader(block)).Next(); err == nil {
			t.Fatalf("%s: the reader took the header; the test no longer tests anything", c.name)
		}
		if h, ok := ustarHeader(block); ok {
			t.Errorf("%s: ustarHeader took %+v, which the reader refuses", c.name, h)
		}
	}
}
