package report

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/strata-forensics/strata/forensics/atomicfile"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/printable"
)

// ErrNotEmpty is returned by WriteEvidence for a folder that already holds
// something: evidence is never mixed with, or written over, other files.
var ErrNotEmpty = errors.New("evidence folder is not empty")

// EvidenceFormats are the reports an evidence folder holds by default.
var EvidenceFormats = []Format{JSON, SARIF, Markdown, HTML, OpenVEX, CycloneDX}

// WriteEvidence writes an evidence folder: report.<ext> in each format (all
// of EvidenceFormats when none is given), files/<sha256> holding the bytes of
// every file a finding names, files.tsv saying where each copy came from, and
// SHA256SUMS over every other file of the folder, in sha256sum's format. It
// refuses a folder that exists and is not empty, and creates it otherwise.
//
// The folder is built under a temporary name beside dir and renamed to dir
// once SHA256SUMS is written (see atomicfile.Dir): a folder named dir is
// always complete.
func (d *Document) WriteEvidence(dir string, formats ...Format) error {
	if d.spool != nil || d.text != nil || d.linesOnly {
		return fmt.Errorf("evidence: %w", ErrSpooled) // before any folder is made
	}
	err := atomicfile.Dir(dir, func(tmp string) error {
		return d.fillEvidence(tmp, formats)
	})
	if errors.Is(err, atomicfile.ErrExists) {
		return fmt.Errorf("evidence %s: %w", dir, ErrNotEmpty)
	}
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	return nil
}

func (d *Document) fillEvidence(dir string, formats []Format) error {
	if len(formats) == 0 {
		formats = EvidenceFormats
	}
	var written []string // slash-separated, relative to dir
	for _, f := range formats {
		var buf bytes.Buffer
		if err := d.Write(&buf, f, TextOptions{}); err != nil {
			return err
		}
		name := "report." + f.Ext()
		if err := writeFile(filepath.Join(dir, name), buf.Bytes()); err != nil {
			return err
		}
		written = append(written, name)
	}

	copies, err := d.matched.copy(dir)
	if err != nil {
		return err
	}
	if len(copies) > 0 {
		var tsv bytes.Buffer
		tsv.WriteString("sha256\tsize\tinput\timage\tlayer\tlayer_digest\tpath\tpresent\trules\n")
		for _, c := range copies {
			fmt.Fprintf(&tsv, "%s\t%d\t%s\t%s\t%d\t%s\t%s\t%t\t%s\n", c.sha256, c.size, tsvField(c.input), tsvField(c.image),
				c.layer, c.layerDigest, tsvField(c.path), c.present, tsvField(strings.Join(c.rules, ",")))
			written = append(written, "files/"+c.sha256)
		}
		if err := writeFile(filepath.Join(dir, "files.tsv"), tsv.Bytes()); err != nil {
			return err
		}
		written = append(written, "files.tsv")
	}
	return writeSums(dir, written)
}

// writeFile creates a new file (never replacing one) holding b, read-only:
// evidence is written once.
func writeFile(p string, b []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("evidence: %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("evidence: %s: %w", p, err)
	}
	return nil
}

// matchedFiles are the files an evidence folder copies, one per content
// digest, in the order the findings name them, with what each copy is read
// through.
type matchedFiles struct {
	bySHA map[string]*copied
	order []*copied
}

type copied struct {
	sha256      string
	size        int64
	input       string
	image       string
	layer       int
	layerDigest string
	path        string
	present     bool
	rules       []string

	open    Opener
	entry   *layer.Entry
	finding string // the path of the first finding naming it, for errors
}

// add notes the file each finding of src names, found in the layer blob
// that holds its bytes, for the images whose content src can read.
func (m *matchedFiles) add(src Source) {
	for _, si := range src.Images {
		if si.Image == nil || si.Content == nil {
			continue
		}
		ref := si.Image.Ref()
		for _, f := range src.Findings {
			if f.Image != ref || f.Layer < 0 || f.Layer >= len(si.Layers) || f.Path == "" {
				continue
			}
			if f.Drift != "" {
				// Its bytes lie in the layer's folder on the host, in no
				// layer blob: the blob's entry at the path, if any, is
				// what was pulled, not what matched.
				continue
			}
			e, from := matchedEntry(si.Layers, f)
			if e == nil {
				continue // a path the layer did not write itself (e.g. a package database entry)
			}
			if c, ok := m.bySHA[e.SHA256]; ok {
				c.rules = appendUnique(c.rules, f.Rule)
				continue
			}
			ld := f.LayerDigest
			if from != f.Layer && from < len(si.Image.Layers) && si.Image.Layers[from] != nil {
				ld = si.LayerDigest(from).String() // a hardlink's bytes sit lower
			}
			c := &copied{sha256: e.SHA256, size: e.Size, input: src.Input.Path, image: ref, layer: from,
				layerDigest: ld, path: e.Path, present: f.Present, rules: []string{f.Rule},
				open: si.Content, entry: e, finding: f.Path}
			if m.bySHA == nil {
				m.bySHA = map[string]*copied{}
			}
			m.bySHA[e.SHA256] = c
			m.order = append(m.order, c)
		}
	}
}

// copy copies each file out of its layer blob into dir/files, verifying
// the bytes as they are read, and returns the copies by digest.
func (m *matchedFiles) copy(dir string) ([]copied, error) {
	out := make([]copied, 0, len(m.order))
	for _, c := range m.order {
		if err := copyOne(dir, c.open, c.layer, c.entry); err != nil {
			return nil, fmt.Errorf("evidence: %s layer %d %s: %w", c.image, c.layer, c.finding, err)
		}
		out = append(out, *c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].sha256 < out[j].sha256 })
	return out, nil
}

// matchedEntry finds the regular file a finding points at: the entry the
// finding's layer wrote at its path (preferring the one whose digest the
// finding names), following a hardlink to the entry holding its bytes.
func matchedEntry(layers []SourceLayer, f finding.Finding) (*layer.Entry, int) {
	var hit *layer.Entry
	for _, e := range layers[f.Layer].Entries {
		if e.Path != f.Path {
			continue
		}
		if e.Type != layer.File && e.Type != layer.Hardlink {
			continue
		}
		if hit == nil || e.SHA256 == f.SHA256 || hit.SHA256 != f.SHA256 {
			hit = e // the last write wins, unless an earlier one carries the finding's digest
		}
	}
	if hit == nil || hit.SHA256 == "" {
		return nil, -1
	}
	if hit.Type == layer.Hardlink {
		// The bytes sit with the link's target, in this layer or below.
		for idx := f.Layer; idx >= 0; idx-- {
			es := layers[idx].Entries
			for i := len(es) - 1; i >= 0; i-- {
				e := es[i]
				if e.Path == hit.Link && e.Type == layer.File && e.SHA256 == hit.SHA256 {
					return e, idx
				}
			}
		}
		return nil, -1
	}
	return hit, f.Layer
}

func copyOne(dir string, op Opener, idx int, e *layer.Entry) error {
	if len(e.SHA256) != 64 || strings.Trim(e.SHA256, "0123456789abcdef") != "" {
		return fmt.Errorf("entry digest %q is not a sha256", e.SHA256)
	}
	rc, err := op.Open(idx, e)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o755); err != nil {
		return err
	}
	p := filepath.Join(dir, "files", e.SHA256)
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), rc)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != e.Size {
		err = fmt.Errorf("read %d bytes, the entry has %d", n, e.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); err == nil && got != e.SHA256 {
		err = fmt.Errorf("bytes hash to %s, the entry says %s", got, e.SHA256)
	}
	if err != nil {
		os.Remove(p) // never leave bytes that are not what their name claims
		return err
	}
	return nil
}

// writeSums writes SHA256SUMS over the files written, hashing each back
// from disk so the list proves what is there, not what was meant to be.
func writeSums(dir string, names []string) error {
	sort.Strings(names)
	var b bytes.Buffer
	for _, name := range names {
		sum, err := hashFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return fmt.Errorf("evidence: %w", err)
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, name)
	}
	return writeFile(filepath.Join(dir, "SHA256SUMS"), b.Bytes())
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, bufio.NewReader(f)); err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// tsvField keeps a field in its column and line: tabs, newlines and every
// other control character from the image are shown (^I, ^J, ^[), so that a
// name can neither forge a row nor drive the terminal the list is read on.
func tsvField(s string) string { return printable.String(s) }

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}
