package detect

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/tree"
)

// Published byte signatures, planted into look-alike files only.
const (
	hexPrologue = "f30f1efa554889f54c89ce5389fb81e7000000804883ec28488954241848894c2410"
	hexOp1      = "488d7c2408f3ab488d4424084889d14c89c74889c2e8????????89c2"
	hexOp2      = "31c04989ffb9160000004d89c5488d7c24484d89cef3ab488d442448"
	hexOp3      = "4d8b6c2408458b3c244c8b6310898578f1ffff31c083bd78f1ffff00f3ab7907"
	m4Marker    = "gl_am_configmake=`grep -aErls \"#{4}[[:alnum:]]{5}#{4}$\" $srcdir/ 2>/dev/null`\n"
	glibcLoader = "/lib64/ld-linux-x86-64.so.2"
)

// unhexPattern turns a hex pattern into bytes, filling wildcards with 0x5a.
func unhexPattern(t testing.TB, s string) []byte {
	t.Helper()
	var out []byte
	for i := 0; i+1 < len(s); i += 2 {
		if s[i] == '?' {
			out = append(out, 0x5a)
			continue
		}
		b, err := hex.DecodeString(s[i : i+2])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// elfSpec describes a look-alike ELF: a valid x86-64 ELF header, optional
// PT_INTERP, a dynamic section with DT_NEEDED/DT_SONAME, and payload bytes
// placed at given offsets. Nothing in it is executable code.
type elfSpec struct {
	interp  string
	needed  []string
	soname  string
	payload map[int][]byte // file offset -> bytes (placed after the headers)
	size    int            // pad the file to at least this size
}

func fakeELF(t testing.TB, s elfSpec) []byte {
	t.Helper()
	le := binary.LittleEndian
	const ehsize, phsize, shsize = 64, 56, 64
	nph := 1
	if s.interp != "" {
		nph = 2
	}
	off := ehsize + nph*phsize
	interpOff := off
	off += len(s.interp) + 1
	// .dynstr
	dynstr := []byte{0}
	var dyn [][2]uint64
	for _, n := range s.needed {
		dyn = append(dyn, [2]uint64{1, uint64(len(dynstr))}) // DT_NEEDED
		dynstr = append(append(dynstr, n...), 0)
	}
	if s.soname != "" {
		dyn = append(dyn, [2]uint64{14, uint64(len(dynstr))}) // DT_SONAME
		dynstr = append(append(dynstr, s.soname...), 0)
	}
	dynstrOff := off
	off += len(dynstr)
	off = (off + 7) &^ 7
	dyn = append(dyn, [2]uint64{5, uint64(dynstrOff)}, [2]uint64{0, 0}) // DT_STRTAB, DT_NULL
	dynOff := off
	off += 16 * len(dyn)
	body := make([]byte, off)
	copy(body[interpOff:], s.interp)
	copy(body[dynstrOff:], dynstr)
	for i, d := range dyn {
		le.PutUint64(body[dynOff+16*i:], d[0])
		le.PutUint64(body[dynOff+16*i+8:], d[1])
	}
	hdrEnd := len(body)
	for o, b := range s.payload {
		if o < hdrEnd {
			t.Fatalf("payload offset %#x inside headers (%#x)", o, hdrEnd)
		}
		if need := o + len(b); need > len(body) {
			body = append(body, make([]byte, need-len(body))...)
		}
		copy(body[o:], b)
	}
	if len(body) < s.size {
		body = append(body, make([]byte, s.size-len(body))...)
	}
	shstr := []byte("\x00.dynstr\x00.dynamic\x00.shstrtab\x00")
	shstrOff := len(body)
	body = append(body, shstr...)
	for len(body)%8 != 0 {
		body = append(body, 0)
	}
	shOff := len(body)
	sh := make([]byte, 4*shsize)
	put := func(i int, name, typ uint32, offset, size, link, entsize uint64) {
		b := sh[i*shsize:]
		le.PutUint32(b[0:], name)
		le.PutUint32(b[4:], typ)
		le.PutUint64(b[16:], offset) // sh_addr = offset
		le.PutUint64(b[24:], offset)
		le.PutUint64(b[32:], size)
		le.PutUint32(b[40:], uint32(link))
		le.PutUint64(b[48:], 1)
		le.PutUint64(b[56:], entsize)
	}
	put(1, 1, 3, uint64(dynstrOff), uint64(len(dynstr)), 0, 0)
	put(2, 9, 6, uint64(dynOff), uint64(16*len(dyn)), 1, 16)
	put(3, 18, 3, uint64(shstrOff), uint64(len(shstr)), 0, 0)
	body = append(body, sh...)
	// ELF header.
	copy(body, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
	le.PutUint16(body[16:], 3)  // ET_DYN
	le.PutUint16(body[18:], 62) // EM_X86_64
	le.PutUint32(body[20:], 1)
	le.PutUint64(body[32:], ehsize)
	le.PutUint64(body[40:], uint64(shOff))
	le.PutUint16(body[52:], ehsize)
	le.PutUint16(body[54:], phsize)
	le.PutUint16(body[56:], uint16(nph))
	le.PutUint16(body[58:], shsize)
	le.PutUint16(body[60:], 4)
	le.PutUint16(body[62:], 3)
	ph := body[ehsize:]
	if s.interp != "" {
		le.PutUint32(ph[0:], 3) // PT_INTERP
		le.PutUint32(ph[4:], 4)
		le.PutUint64(ph[8:], uint64(interpOff))
		le.PutUint64(ph[16:], uint64(interpOff))
		le.PutUint64(ph[24:], uint64(interpOff))
		le.PutUint64(ph[32:], uint64(len(s.interp)+1))
		le.PutUint64(ph[40:], uint64(len(s.interp)+1))
		le.PutUint64(ph[48:], 1)
		ph = ph[phsize:]
	}
	le.PutUint32(ph[0:], 2) // PT_DYNAMIC
	le.PutUint32(ph[4:], 6)
	le.PutUint64(ph[8:], uint64(dynOff))
	le.PutUint64(ph[16:], uint64(dynOff))
	le.PutUint64(ph[24:], uint64(dynOff))
	le.PutUint64(ph[32:], uint64(16*len(dyn)))
	le.PutUint64(ph[40:], uint64(16*len(dyn)))
	le.PutUint64(ph[48:], 8)
	return body
}

// tfile is one entry of a test layer: a file, or a whiteout when del.
type tfile struct {
	path string
	body []byte
	del  bool
}

func file(p string, body []byte) tfile { return tfile{path: p, body: body} }
func whiteout(p string) tfile          { return tfile{path: p, del: true} }

func tarOf(t testing.TB, files []tfile) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		name := f.path
		var body []byte
		if f.del {
			dir, base := splitPath(name)
			name = dir + ".wh." + base
		} else {
			body = f.body
		}
		if err := tw.WriteHeader(&tar.Header{Name: name[1:], Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func splitPath(p string) (string, string) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i+1], p[i+1:]
		}
	}
	return "", p
}

// scanImage walks each layer with the engine's sinks, builds the tree and
// returns the image's findings and layer results.
func scanImage(t testing.TB, e *Engine, img *image.Image, layers [][]tfile) ([]*LayerResult, *tree.Tree) {
	t.Helper()
	tr := tree.New()
	var results []*LayerResult
	for i, files := range layers {
		blob := tarOf(t, files)
		ls := e.NewLayerScan()
		sum, err := layer.Walk(context.Background(), bytes.NewReader(blob), layer.Options{Sinks: ls.Sinks})
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		tr.Apply(i, sum.Entries)
		results = append(results, ls.Result())
		d := sha256.Sum256(blob)
		img.Layers = append(img.Layers, &image.Layer{Index: i, Digest: digest.NewDigestFromBytes(digest.SHA256, d[:])})
	}
	return results, tr
}
