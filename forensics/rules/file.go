// Package rules holds detection rules as data: known-bad digests, byte
// signatures, affected package versions, file-name patterns, textual markers
// and known-affected image digests, each with its sources and a severity.
// The built-in CVE-2024-3094 ruleset is embedded in the binary; responders
// add their own files (same format, see README.md) without a new build.
package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/pkgdb"
)

// Schema is the only rule-file schema this package reads.
const Schema = "strata.rules/v1"

// File is one rule file as written on disk.
type File struct {
	Schema      string   `json:"schema"`
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Description string   `json:"description,omitempty"`
	Sources     []Source `json:"sources"`
	Rules       []Rule   `json:"rules"`
}

// Source is a reference that backs a rule: an advisory, a write-up, a YARA
// rule, a recomputation.
type Source struct {
	ID   string `json:"id"`
	Ref  string `json:"ref"`
	Note string `json:"note,omitempty"`
}

// Kind is what a rule looks at; exactly one kind field is set per rule.
type Kind string

const (
	KindDigest    Kind = "digest"
	KindSignature Kind = "signature"
	KindPackage   Kind = "package"
	KindPath      Kind = "path"
	KindMarker    Kind = "marker"
	KindImage     Kind = "image"
)

// Context names a severity policy applied once the whole image is known.
const (
	// ContextLiblzma: a backdoored liblzma is critical when the image has an
	// sshd that loads liblzma on x86-64 glibc, else the rule's severity.
	ContextLiblzma = "liblzma"
)

// Rule is one detection rule.
type Rule struct {
	ID          string           `json:"id"`
	Title       string           `json:"title"`
	Severity    finding.Severity `json:"severity"`
	Sources     []string         `json:"sources"`
	Description string           `json:"description,omitempty"`
	// Context, when set, lets the image's context raise the severity
	// (see ContextLiblzma).
	Context string `json:"context,omitempty"`

	Digests   []Digest   `json:"digests,omitempty"`
	Signature *Signature `json:"signature,omitempty"`
	Package   *Package   `json:"package,omitempty"`
	Path      []string   `json:"path,omitempty"`
	Marker    *Marker    `json:"marker,omitempty"`
	Image     *Image     `json:"image,omitempty"`

	file int // index of the file in the Set that defined the rule
}

// Kind returns which detector the rule feeds.
func (r *Rule) Kind() Kind {
	if ks := r.kinds(); len(ks) > 0 {
		return ks[0]
	}
	return ""
}

// kinds lists the kinds whose field the rule sets, in the order Kind
// prefers them; a valid rule sets exactly one.
func (r *Rule) kinds() []Kind {
	var ks []Kind
	for _, k := range []struct {
		kind Kind
		set  bool
	}{
		{KindDigest, len(r.Digests) > 0},
		{KindSignature, r.Signature != nil},
		{KindPackage, r.Package != nil},
		{KindPath, len(r.Path) > 0},
		{KindMarker, r.Marker != nil},
		{KindImage, r.Image != nil},
	} {
		if k.set {
			ks = append(ks, k.kind)
		}
	}
	return ks
}

// UnmarshalJSON decodes a rule strictly (no unknown keys) and names the
// rule in a decoding error, which the file's decoder alone would not: an
// unknown severity or a misspelt key inside the tenth rule says which.
func (r *Rule) UnmarshalJSON(b []byte) error {
	type rule Rule // the same fields, without this method
	var v rule
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		var id struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(b, &id) == nil && id.ID != "" {
			return &ruleDecodeError{id: id.ID, err: err}
		}
		return err
	}
	*r = Rule(v)
	return nil
}

// ruleDecodeError is a decoding error inside the rule id.
type ruleDecodeError struct {
	id  string
	err error
}

func (e *ruleDecodeError) Error() string { return fmt.Sprintf("rule %q: %v", e.id, e.err) }
func (e *ruleDecodeError) Unwrap() error { return e.err }

// Digest is one known-bad sha256.
type Digest struct {
	SHA256   string `json:"sha256"`
	Artifact string `json:"artifact"`
	Note     string `json:"note,omitempty"`
	// Sources narrow the rule's sources to those backing this digest.
	Sources []string `json:"sources,omitempty"`
}

// validateDigests checks a digest rule's list against the file's sources.
func validateDigests(ds []Digest, srcs map[string]bool) error {
	dup := map[string]bool{}
	for i, d := range ds {
		field := fmt.Sprintf("digests[%d]", i)
		if !sha256RE.MatchString(d.SHA256) {
			return ferr(field+".sha256", "%q is not 64 lower-case hex digits", d.SHA256)
		}
		if dup[d.SHA256] {
			return ferr(field+".sha256", "listed twice")
		}
		dup[d.SHA256] = true
		if strings.TrimSpace(d.Artifact) == "" {
			return ferr(field+".artifact", "is empty")
		}
		if err := checkSources(field+".sources", d.Sources, srcs); err != nil {
			return err
		}
	}
	return nil
}

// Match says how many of a rule's patterns or strings must be found.
const (
	MatchAll = "all"
	MatchAny = "any"
)

// Scopes of a signature: which files are searched without --deep.
const (
	ScopeLiblzma = "liblzma" // files named liblzma.so* or whose ELF names liblzma
	ScopeELF     = "elf"     // every ELF file
	ScopeAny     = "any"     // every regular file
)

// Signature is a set of byte patterns in YARA hex syntax ("??" is any byte).
type Signature struct {
	Patterns   []string `json:"patterns"`
	Match      string   `json:"match"`
	RequireELF bool     `json:"require_elf"`
	Scope      string   `json:"scope"`
	// MaxSize skips files larger than this many bytes (0: no bound).
	MaxSize int64 `json:"max_size,omitempty"`
}

func (s *Signature) validate() error {
	if len(s.Patterns) == 0 {
		return ferr("signature.patterns", "no patterns")
	}
	for i, p := range s.Patterns {
		if _, err := ParsePattern(p); err != nil {
			return ferr(fmt.Sprintf("signature.patterns[%d]", i), "%v", err)
		}
	}
	if err := checkMatch("signature.match", s.Match); err != nil {
		return err
	}
	switch s.Scope {
	case ScopeLiblzma, ScopeELF, ScopeAny:
	default:
		return ferr("signature.scope", "is %q, want %q, %q or %q", s.Scope, ScopeLiblzma, ScopeELF, ScopeAny)
	}
	if s.MaxSize < 0 {
		return ferr("signature.max_size", "is negative")
	}
	return nil
}

// Package lists affected versions of named packages in one ecosystem:
// one of pkgdb.Ecosystems (dpkg, rpm, apk, pacman, brew, nix, conda,
// portage).
type Package struct {
	Ecosystem string   `json:"ecosystem"`
	Names     []string `json:"names"`
	Ranges    []Range  `json:"ranges"`
	// Note says what an affected version means on its own, in this
	// ecosystem: a package finding carries it when no binary rule matched
	// in the same image (e.g. that the injected build step never ran in
	// this ecosystem's builds, so the version alone is low).
	Note string `json:"note,omitempty"`
}

func (p *Package) validate() error {
	eco := pkgdb.Ecosystem(p.Ecosystem)
	if !pkgdb.Known(eco) {
		names := make([]string, len(pkgdb.Ecosystems))
		for i, e := range pkgdb.Ecosystems {
			names[i] = string(e)
		}
		return ferr("package.ecosystem", "is %q, want one of %s", p.Ecosystem, strings.Join(names, ", "))
	}
	if len(p.Names) == 0 {
		return ferr("package.names", "no names")
	}
	for i, n := range p.Names {
		if strings.TrimSpace(n) == "" {
			return ferr(fmt.Sprintf("package.names[%d]", i), "is empty")
		}
	}
	if len(p.Ranges) == 0 {
		return ferr("package.ranges", "no ranges")
	}
	for i, rg := range p.Ranges {
		if err := rg.validate(eco, fmt.Sprintf("package.ranges[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

// Range is a version range in the ecosystem's own ordering; it has the
// fields (and JSON names) of pkgdb.Range so that one converts to the other.
type Range struct {
	Introduced   string   `json:"introduced,omitempty"`
	Fixed        string   `json:"fixed,omitempty"`
	LastAffected string   `json:"last_affected,omitempty"`
	Versions     []string `json:"versions,omitempty"`
}

// validate checks the range's shape and that the ecosystem's ordering
// accepts every version in it, so that a misspelt bound fails when the
// file is loaded rather than silently matching nothing.
func (rg *Range) validate(eco pkgdb.Ecosystem, field string) error {
	if rg.Fixed != "" && rg.LastAffected != "" {
		return ferr(field, "has both fixed and last_affected")
	}
	if rg.Introduced == "" && rg.Fixed == "" && rg.LastAffected == "" && len(rg.Versions) == 0 {
		return ferr(field, "is empty (need introduced, fixed, last_affected or versions)")
	}
	check := func(f, v string) error {
		if v == "" || f == ".introduced" && v == "0" {
			return nil
		}
		if _, err := pkgdb.Compare(eco, v, v); err != nil {
			return ferr(field+f, "%q is not a %s version: %v", v, eco, err)
		}
		return nil
	}
	for _, b := range [][2]string{{".introduced", rg.Introduced}, {".fixed", rg.Fixed}, {".last_affected", rg.LastAffected}} {
		if err := check(b[0], b[1]); err != nil {
			return err
		}
	}
	for i, v := range rg.Versions {
		if v == "" {
			return ferr(fmt.Sprintf("%s.versions[%d]", field, i), "is empty")
		}
		if err := check(fmt.Sprintf(".versions[%d]", i), v); err != nil {
			return err
		}
	}
	return nil
}

// Marker is a set of literal strings searched in text files.
type Marker struct {
	Strings []string `json:"strings"`
	Match   string   `json:"match"`
	// Files are base-name globs of the files searched, besides members of
	// source tarballs picked by path rules. Default: build-to-host.m4 and
	// configure.
	Files []string `json:"files,omitempty"`
}

// MarkerFiles returns the globs a marker rule applies to.
func (m *Marker) MarkerFiles() []string {
	if len(m.Files) == 0 {
		return []string{"build-to-host.m4", "configure"}
	}
	return m.Files
}

func (m *Marker) validate() error {
	if len(m.Strings) == 0 {
		return ferr("marker.strings", "no strings")
	}
	for i, s := range m.Strings {
		if len(s) < 4 {
			return ferr(fmt.Sprintf("marker.strings[%d]", i), "%q is shorter than 4 bytes", s)
		}
	}
	if err := checkMatch("marker.match", m.Match); err != nil {
		return err
	}
	return checkGlobs("marker.files", m.Files)
}

// Image lists manifest or index digests of published images known to carry
// the artefact.
type Image struct {
	ManifestDigests []ImageDigest `json:"manifest_digests"`
}

func (im *Image) validate() error {
	if len(im.ManifestDigests) == 0 {
		return ferr("image.manifest_digests", "no digests")
	}
	for i, d := range im.ManifestDigests {
		if err := d.validate(fmt.Sprintf("image.manifest_digests[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

// ImageDigest names one published image.
type ImageDigest struct {
	Digest string `json:"digest"`
	Tag    string `json:"tag"`
}

func (d *ImageDigest) validate(field string) error {
	if !strings.HasPrefix(d.Digest, "sha256:") || !sha256RE.MatchString(strings.TrimPrefix(d.Digest, "sha256:")) {
		return ferr(field+".digest", "%q is not sha256:<64 hex>", d.Digest)
	}
	if strings.TrimSpace(d.Tag) == "" {
		return ferr(field+".tag", "is empty")
	}
	return nil
}
