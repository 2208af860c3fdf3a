package pkgdb

import (
	"bytes"
	"io"
	"strings"
)

// dpkgStanza gathers the fields of one paragraph that matter here; the rest
// (Description, Depends, Conffiles…) is skipped without being kept.
type dpkgStanza struct {
	start                               int64
	fields                              int
	name, version, arch, source, status string
	hasStatus                           bool
}

// parseDpkg reads a dpkg status file, or one file of status.d, as deb822
// paragraphs. A paragraph counts when its package's files are on disk:
// status.d records carry no Status field and always count; a status file's
// paragraph counts unless its state (the third word of Status) is
// not-installed or config-files. So "hold ok installed" and the
// half-configured or unpacked states, whose files an image does carry, are
// listed too, with Status kept for callers that want only "installed".
func parseDpkg(file string, r io.Reader) ([]Package, error) {
	var (
		pkgs  []Package
		cur   dpkgStanza
		field string // non-empty inside a field, for continuation lines
		probs = problems{file: file}
		ls    = newLineScanner(r)
	)
	flush := func() {
		if cur.fields > 0 {
			if p, ok := cur.pkg(&probs); ok {
				pkgs = append(pkgs, p)
			}
		}
		cur = dpkgStanza{}
		field = ""
	}
	for ls.Scan() {
		line := ls.Line()
		if isBlank(line) {
			flush()
			continue
		}
		if cur.fields == 0 {
			cur.start = ls.start
		}
		if line[0] == ' ' || line[0] == '\t' {
			// Continuation of a multi-line field; none of the fields read
			// here spans lines, so only its place is checked.
			if field == "" {
				probs.add(ls.start, "continuation line outside a field")
			}
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || bytes.ContainsAny(line[:colon], " \t") {
			probs.add(ls.start, "line is neither \"Field: value\" nor a continuation")
			field = ""
			continue
		}
		field = "set"
		cur.fields++
		name := line[:colon]
		value := func() string { return string(bytes.TrimSpace(line[colon+1:])) }
		// deb822 field names are case-insensitive; only five matter here,
		// so the rest are never turned into strings.
		switch {
		case bytes.EqualFold(name, []byte("Package")):
			cur.name = value()
		case bytes.EqualFold(name, []byte("Version")):
			cur.version = value()
		case bytes.EqualFold(name, []byte("Architecture")):
			cur.arch = value()
		case bytes.EqualFold(name, []byte("Source")):
			cur.source = value()
		case bytes.EqualFold(name, []byte("Status")):
			cur.status, cur.hasStatus = value(), true
		}
	}
	if err := ls.Err(file); err != nil {
		// The paragraph reading stopped in may be cut short: leave it out.
		return pkgs, err
	}
	flush()
	return pkgs, probs.err()
}

// pkg turns a finished paragraph into a Package; ok is false when the
// paragraph names no package or its files are not on disk.
func (s *dpkgStanza) pkg(probs *problems) (Package, bool) {
	if s.name == "" {
		probs.add(s.start, "paragraph without a Package field")
		return Package{}, false
	}
	if s.hasStatus {
		words := strings.Fields(s.status)
		if len(words) != 3 {
			probs.add(s.start, "package %q: Status %q is not \"want flag state\"", s.name, s.status)
			return Package{}, false
		}
		if words[2] == "not-installed" || words[2] == "config-files" {
			return Package{}, false
		}
	}
	p := Package{
		Name:          s.name,
		Version:       s.version,
		Arch:          s.arch,
		Source:        s.name,
		SourceVersion: s.version,
		Ecosystem:     Dpkg,
		Status:        s.status,
	}
	if s.source != "" {
		// "Source: xz-utils (5.6.1-1)": the source version is given only
		// when it differs from the binary's (binNMUs, +really rebuilds).
		name, rest, _ := strings.Cut(s.source, " ")
		p.Source = name
		rest = strings.TrimSpace(rest)
		if rest != "" {
			if len(rest) < 2 || rest[0] != '(' || rest[len(rest)-1] != ')' {
				probs.add(s.start, "package %q: Source %q is not \"name (version)\"", s.name, s.source)
			} else if v := strings.TrimSpace(rest[1 : len(rest)-1]); v != "" {
				p.SourceVersion = v
			}
		}
	}
	return p, true
}
