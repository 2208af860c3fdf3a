package report

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // a name-based (version 5) UUID is defined over SHA-1
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/openvex/go-vex/pkg/vex"
)

// WriteOpenVEX writes one OpenVEX 0.2.0 document: a statement per image
// about CVE-2024-3094 (see judge for how each status is decided), the
// image named by its digest, the xz/liblzma packages the status rests on
// as subcomponents.
func (d *Document) WriteOpenVEX(w io.Writer) error {
	doc, err := d.OpenVEX()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, doc); err != nil {
		return err
	}
	_, err = w.Write(unescapeHTML(buf.Bytes()))
	return err
}

// OpenVEX builds the OpenVEX document. It fails when the inputs hold no
// image: an OpenVEX document needs at least one statement.
//
// Its timestamp is the time the first input began scanning (fixed by
// SOURCE_DATE_EPOCH), to the second: what the statements say was true of
// the images then. Statements carry none of their own. Its @id is a
// name-based UUID of everything else, so that a rescan with the same
// results gives the same document.
func (d *Document) OpenVEX() (*vex.VEX, error) {
	judged := d.VEX()
	if len(judged) == 0 {
		return nil, errors.New("openvex: the inputs hold no image to make a statement about")
	}
	var statements []vex.Statement
	seen := map[string]bool{}
	for i := range judged {
		st := openVEXStatement(&judged[i])
		// Two inputs holding the same image give the same statement; the
		// format wants each once.
		key, err := json.Marshal(st)
		if err != nil {
			return nil, fmt.Errorf("report: openvex: %w", err)
		}
		if seen[string(key)] {
			continue
		}
		seen[string(key)] = true
		statements = append(statements, st)
	}
	ts := d.Started.UTC().Truncate(time.Second)
	doc := &vex.VEX{
		Metadata: vex.Metadata{
			Context:   vex.ContextLocator(),
			Author:    d.vexAuthor(),
			Timestamp: &ts,
			Version:   1,
			Tooling:   d.tooling(),
		},
		Statements: statements,
	}
	body, err := json.Marshal(struct {
		Author, Tooling string
		Statements      []vex.Statement
	}{doc.Author, doc.Tooling, doc.Statements})
	if err != nil {
		return nil, fmt.Errorf("report: openvex: %w", err)
	}
	doc.ID = "urn:uuid:" + nameUUID("openvex", body)
	return doc, nil
}

func openVEXStatement(v *ImageVEX) vex.Statement {
	product := vex.Product{Component: vex.Component{ID: v.PURL}}
	if alg, hex, ok := strings.Cut(v.Digest, ":"); ok && alg == "sha256" {
		// Consumers also name an image by its bare digest.
		product.Hashes = map[vex.Algorithm]vex.Hash{vex.SHA256: vex.Hash(hex)}
	}
	for _, p := range v.Packages {
		product.Subcomponents = append(product.Subcomponents, vex.Subcomponent{Component: vex.Component{ID: p.PURL}})
	}
	st := vex.Statement{
		Vulnerability: vex.Vulnerability{ID: cveURL, Name: CVE,
			Description: "Backdoor in the xz/liblzma 5.6.0 and 5.6.1 releases"},
		Products:        []vex.Product{product},
		Status:          v.Status,
		StatusNotes:     imageWords(v) + v.Notes,
		Justification:   v.Justification,
		ImpactStatement: v.Impact,
		ActionStatement: v.Action,
	}
	return st
}

// imageWords names the image and the input it came from, ahead of the
// notes: "strata-fixtures/xz-planted:latest (linux/amd64) in
// fixtures/testdata/xz-planted.docker.tar (sha256 ...): ".
func imageWords(v *ImageVEX) string {
	s := v.Image.Ref
	if v.Image.Platform != "" {
		s += " (" + v.Image.Platform + ")"
	}
	return s + " in " + v.Input.Input.Path + " (sha256 " + v.Input.Input.SHA256 + "): "
}

// vexAuthor is the examiner when named, else the tool.
func (d *Document) vexAuthor() string {
	if d.Custody.Examiner != "" {
		return d.Custody.Examiner
	}
	return d.Tool.Name
}

// tooling names the tool, its build and the rules that judged.
func (d *Document) tooling() string {
	s := d.Tool.Name
	if d.Tool.Version != "" {
		s += " " + d.Tool.Version
	}
	if d.Tool.Commit != "" {
		s += " (" + d.Tool.Commit + ")"
	}
	if d.Ruleset != nil {
		s += ", rules " + d.Ruleset.Version + " sha256:" + d.Ruleset.SHA256
	}
	return s
}

// nameUUID is the version 5 (name-based, SHA-1) UUID of kind and data in
// the URL namespace of RFC 9562: the same content, the same identifier.
func nameUUID(kind string, data []byte) string {
	ns := [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New() //nolint:gosec // see the import
	h.Write(ns[:])
	h.Write([]byte("strata:" + kind + ":"))
	h.Write(data)
	s := h.Sum(nil)[:16]
	s[6] = s[6]&0x0f | 0x50
	s[8] = s[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

// unescapeHTML undoes the \u003c, \u003e and \u0026 escapes that
// encoding/json writes inside strings even when told not to, for types
// whose own MarshalJSON calls json.Marshal (go-vex's, some of
// cyclonedx-go's): paths and commands are evidence, kept as written, as
// in the other JSON reports. Escape sequences are read whole, so an
// escaped backslash followed by "u003c" stays as it is.
func unescapeHTML(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		if b[i+1] == 'u' && i+5 < len(b) {
			switch string(b[i+2 : i+6]) {
			case "003c":
				out, i = append(out, '<'), i+5
				continue
			case "003e":
				out, i = append(out, '>'), i+5
				continue
			case "0026":
				out, i = append(out, '&'), i+5
				continue
			}
		}
		out, i = append(out, b[i], b[i+1]), i+1
	}
	return out
}
