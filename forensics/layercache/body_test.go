package layercache

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/layer"
)

// results is a layer's results with every field of an entry in use.
func results() (*layer.Summary, *detect.LayerResult) {
	sum := &layer.Summary{
		Compression:      compress.Gzip,
		DiffID:           digest.FromString("diff"),
		UncompressedSize: 1 << 40,
		Anomalies:        []layer.Anomaly{{Path: "/dev/x", Kind: "device", Detail: "a char device", Offset: 512}},
		Skipped:          []*layer.LimitError{{Limit: "path length", Flag: "--max-path", Value: "4096"}},
		Format:           layer.FormatEStargz,
		Entries: []*layer.Entry{
			{Path: "/", Type: layer.Dir, Mode: 0o755},
			{Path: "/usr", Type: layer.Dir, Mode: 0o755, Name: "./usr/"},
			{Path: "/usr/lib/liblzma.so.5.6.1", Type: layer.File, Mode: 0o644, Size: 215008, Offset: 1536,
				SHA256: strings.Repeat("ab", 32), MTime: 1711324800, MTimeNsec: 999999999, UID: 0, GID: 0},
			{Path: "/usr/lib/liblzma.so.5", Type: layer.Symlink, Mode: 0o777, Link: "liblzma.so.5.6.1"},
			{Path: "/usr/lib/hard", Type: layer.Hardlink, Link: "/usr/lib/liblzma.so.5.6.1", SHA256: layer.EmptySHA256},
			{Path: "/usr/bin/ping", Type: layer.File, Mode: 0o4755 | 0o1000, UID: 1 << 40, GID: -1, MTime: -62135596800,
				Xattrs: map[string]string{"security.capability": "\x01\x00\x00\x02", "user.z": "", "trusted.overlay.opaque": "y"}},
			{Path: "/étrange/\x00\xff名前", Type: layer.Whiteout, Size: -1, Offset: math.MaxInt64},
			{Path: "/usr", Type: layer.Opaque},
			{Path: "", Type: 250},
		},
		FormatEntries: []*layer.Entry{{Path: "/stargz.index.json", Type: layer.File, Size: 10, SHA256: strings.Repeat("0", 64)}},
	}
	det := &detect.LayerResult{Findings: []finding.Finding{{Path: "/usr/lib/liblzma.so.5.6.1", Rule: "xz-backdoor-signature", Severity: finding.Critical}}}
	return sum, det
}

func TestResultsRoundTrip(t *testing.T) {
	sum, det := results()
	empty := &layer.Summary{DiffID: digest.FromString("empty")}
	cases := []struct {
		name string
		sum  *layer.Summary
		det  *detect.LayerResult
	}{
		{"every field", sum, det},
		{"no entries, no detection", empty, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := MarshalResults(c.sum, c.det)
			if err != nil {
				t.Fatal(err)
			}
			gotSum, gotDet, err := UnmarshalResults(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotSum, c.sum) {
				t.Errorf("summary:\n got %+v\nwant %+v", gotSum, c.sum)
			}
			if !reflect.DeepEqual(gotDet, c.det) {
				t.Errorf("detection:\n got %+v\nwant %+v", gotDet, c.det)
			}
			again, err := MarshalResults(gotSum, gotDet)
			if err != nil || !bytes.Equal(again, b) {
				t.Errorf("encoded again, other bytes (%v)", err)
			}
		})
	}
	// The summary given is left as it was.
	if len(sum.Entries) != 9 || len(sum.FormatEntries) != 1 {
		t.Errorf("MarshalResults changed its summary")
	}
}

// An empty file's digest is one string however many empty files there are.
func TestResultsShareEmptyDigest(t *testing.T) {
	sum := &layer.Summary{Entries: []*layer.Entry{
		{Path: "/a", Type: layer.File, SHA256: layer.EmptySHA256},
		{Path: "/b", Type: layer.File, SHA256: layer.EmptySHA256},
	}}
	b, _ := MarshalResults(sum, nil)
	got, _, err := UnmarshalResults(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got.Entries {
		if e.SHA256 != layer.EmptySHA256 {
			t.Fatal("not the empty digest")
		}
		if unsafe.StringData(e.SHA256) != unsafe.StringData(layer.EmptySHA256) {
			t.Errorf("%s: the empty digest is a string of its own", e.Path)
		}
	}
}

// Bodies that are cut, padded or that lie about their counts and lengths
// are errors naming the byte, never a panic or an allocation past them.
func TestResultsDamaged(t *testing.T) {
	sum, det := results()
	good, err := MarshalResults(sum, det)
	if err != nil {
		t.Fatal(err)
	}
	jsLen, n := binary.Uvarint(good)
	entriesAt := n + int(jsLen)
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "a bad number"},
		{"cut in the JSON", good[:entriesAt-1], "past the end"},
		{"cut in the entries", good[:len(good)-3], "at byte"},
		{"a byte past the end", append(bytes.Clone(good), 0), "bytes past the entries"},
		{"JSON with no summary", append(binary.AppendUvarint(nil, 2), "{}"...), "no walk summary"},
		{"a count of a billion entries", append(binary.AppendUvarint(append(binary.AppendUvarint(nil, 14), `{"summary":{}}`...), 1e9), 0, 0), "more entries than bytes"},
		{"a path sharing more than the path before", append(append(binary.AppendUvarint(nil, 14), `{"summary":{}}`...),
			1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), "sharing more"},
		{"unknown flags", append(append(binary.AppendUvarint(nil, 14), `{"summary":{}}`...),
			1, 0, 1, 'a', 1, 0x80, 0, 0, 0, 0, 0, 0, 0, 0), "unknown entry flags"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := UnmarshalResults(c.b)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
		})
	}
}

// FuzzBody: whatever bytes a body holds, UnmarshalResults does not panic,
// and what it takes encodes to a body that decodes to the same results.
func FuzzBody(f *testing.F) {
	sum, det := results()
	b, err := MarshalResults(sum, det)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	e := entry("a", 3)
	b, _ = MarshalResults(e.Summary, e.Detect)
	f.Add(b)
	f.Add([]byte{})
	f.Add(append(binary.AppendUvarint(nil, 14), `{"summary":{}}`...))
	f.Fuzz(func(t *testing.T, b []byte) {
		sum, det, err := UnmarshalResults(b)
		if err != nil {
			return
		}
		again, err := MarshalResults(sum, det)
		if err != nil {
			t.Fatal(err)
		}
		sum2, det2, err := UnmarshalResults(again)
		if err != nil {
			t.Fatalf("its own encoding does not decode: %v", err)
		}
		if !reflect.DeepEqual(sum, sum2) || !reflect.DeepEqual(det, det2) {
			t.Fatalf("decoded, encoded and decoded again: other results")
		}
	})
}

// BenchmarkUnmarshalResults reads back the results of a base layer of
// 3,000 files, as an assembling scan does for every layer of a fleet.
func BenchmarkUnmarshalResults(b *testing.B) {
	sum := &layer.Summary{DiffID: digest.FromString("base")}
	for i := range 3000 {
		sum.Entries = append(sum.Entries, &layer.Entry{
			Path: fmt.Sprintf("/usr/share/doc/package-%03d/file-%d.txt", i/10, i%10), Type: layer.File,
			Mode: 0o644, Size: int64(i * 100), Offset: int64(i * 1024), MTime: 1711324800,
			SHA256: fmt.Sprintf("%064x", i),
		})
	}
	body, err := MarshalResults(sum, &detect.LayerResult{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := UnmarshalResults(body); err != nil {
			b.Fatal(err)
		}
	}
}
