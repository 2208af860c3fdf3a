package detect

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/strata-forensics/strata/forensics/compress"
)

// Container kinds the nested scan opens. Compressed streams are named by
// their compress.Format ("gzip", "xz", "zstd", "bzip2", "lzma").
const (
	kindTar  = "tar"
	kindAr   = "ar"
	kindCpio = "cpio"
	kindZip  = "zip"
	kindRPM  = "rpm"
)

// sniffLen is how much of a file the sniffers need: a tar header block.
const sniffLen = 512

var (
	rpmLead  = []byte{0xed, 0xab, 0xee, 0xdb}
	zipLocal = []byte("PK\x03\x04")
	// bzip2 streams go on with a block magic (the digits of pi) or, when
	// empty, the end-of-stream magic (those of sqrt(pi)).
	bzip2Block = []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}
	bzip2End   = []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90}
)

// sniffKind names the container a file or member is, from its first bytes
// (head, up to sniffLen) and, for the classic LZMA format that has no
// magic number, its name. Names never decide otherwise: an attacker
// renames, and a tool mislabels. "" means not a container.
func sniffKind(base string, head []byte) string {
	if f := sniffCompression(head); f != compress.None {
		return string(f)
	}
	if k := sniffArchive(head); k != "" {
		return k
	}
	if hasLZMAName(base) && compress.SniffLZMA(head) {
		return string(compress.LZMA)
	}
	return ""
}

// sniffCompression is compress.Sniff with the checks that keep a text file
// from passing for a compressed stream on two or three bytes: gzip's
// method byte, bzip2's block size digit and block magic.
func sniffCompression(head []byte) compress.Format {
	f := compress.Sniff(head)
	switch f {
	case compress.Gzip:
		if len(head) < 3 || head[2] != 8 { // deflate, the only method gzip defines
			return compress.None
		}
	case compress.Bzip2:
		if len(head) < 10 || head[3] < '1' || head[3] > '9' || !bytes.Equal(head[4:10], bzip2Block) && !bytes.Equal(head[4:10], bzip2End) {
			return compress.None
		}
	}
	return f
}

// sniffArchive names an archive format from its first bytes, or "".
func sniffArchive(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte(arMagic)):
		return kindAr
	case bytes.HasPrefix(head, rpmLead):
		return kindRPM
	case bytes.HasPrefix(head, []byte("070701")), bytes.HasPrefix(head, []byte("070702")):
		return kindCpio
	case bytes.HasPrefix(head, zipLocal):
		return kindZip
	case isTarHeader(head):
		return kindTar
	}
	return ""
}

// isTarHeader reports whether head starts with a tar header block whose
// checksum holds: the ustar magic alone would miss old v7 tars, and a
// checksum over 512 bytes does not hold by chance.
func isTarHeader(head []byte) bool {
	if len(head) < 512 || head[0] == 0 {
		return false
	}
	field := strings.TrimRight(strings.TrimLeft(string(head[148:156]), " \x00"), " \x00")
	want, err := strconv.ParseUint(field, 8, 32)
	if err != nil {
		return false
	}
	var unsigned, signed int64
	for i, b := range head[:512] {
		if i >= 148 && i < 156 {
			b = ' '
		}
		unsigned += int64(b)
		signed += int64(int8(b))
	}
	return int64(want) == unsigned || int64(want) == signed
}

func hasLZMAName(base string) bool {
	return strings.HasSuffix(base, ".lzma") || strings.HasSuffix(base, ".tlz")
}

// decompressedName is the name a decompressor gives a compressed file's
// content: gunzip's rule (x.gz is x, x.tgz is x.tar), and the name itself
// when no suffix says.
func decompressedName(base string) string {
	for _, s := range [...][2]string{
		{".tgz", ".tar"}, {".taz", ".tar"}, {".txz", ".tar"}, {".tbz2", ".tar"}, {".tbz", ".tar"}, {".tzst", ".tar"}, {".tlz", ".tar"},
		{".gz", ""}, {".xz", ""}, {".zst", ""}, {".zstd", ""}, {".bz2", ""}, {".lzma", ""}, {".z", ""}, {".Z", ""},
	} {
		if stem, ok := strings.CutSuffix(base, s[0]); ok && stem != "" {
			return stem + s[1]
		}
	}
	return base
}
