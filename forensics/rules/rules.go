// Package rules holds detection rules as data: known-bad digests, byte
// signatures, affected package versions, file-name patterns, textual markers
// and known-affected image digests, each with its sources and a severity.
// The built-in CVE-2024-3094 ruleset is embedded in the binary; responders
// add their own files (same format, see README.md) without a new build.
package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/strata-forensics/strata/forensics/finding"
)

// Schema is the only rule-file schema this package reads.
const Schema = "strata.rules/v1"

// MaxFileBytes bounds a rule file; real ones are a few tens of KiB.
const MaxFileBytes = 16 << 20

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

// Package lists affected versions of named packages in one ecosystem.
type Package struct {
	Ecosystem string   `json:"ecosystem"`
	Names     []string `json:"names"`
	Ranges    []Range  `json:"ranges"`
}

// Range is a version range in the ecosystem's own ordering; it has the
// fields (and JSON names) of pkgdb.Range so that one converts to the other.
type Range struct {
	Introduced   string   `json:"introduced,omitempty"`
	Fixed        string   `json:"fixed,omitempty"`
	LastAffected string   `json:"last_affected,omitempty"`
	Versions     []string `json:"versions,omitempty"`
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

// Image lists manifest or index digests of published images known to carry
// the artefact.
type Image struct {
	ManifestDigests []ImageDigest `json:"manifest_digests"`
}

// ImageDigest names one published image.
type ImageDigest struct {
	Digest string `json:"digest"`
	Tag    string `json:"tag"`
}

// Kind returns which detector the rule feeds.
func (r *Rule) Kind() Kind {
	switch {
	case len(r.Digests) > 0:
		return KindDigest
	case r.Signature != nil:
		return KindSignature
	case r.Package != nil:
		return KindPackage
	case len(r.Path) > 0:
		return KindPath
	case r.Marker != nil:
		return KindMarker
	case r.Image != nil:
		return KindImage
	}
	return ""
}

// Error says which file, rule and field of a rule file is wrong.
type Error struct {
	File  string
	Rule  string // empty for file-level problems
	Field string
	Err   error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("rules ")
	b.WriteString(e.File)
	if e.Rule != "" {
		fmt.Fprintf(&b, ": rule %q", e.Rule)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": %s", e.Field)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid rule file")

// FileInfo identifies one loaded rule file.
type FileInfo struct {
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
	Version string `json:"version"`
	Name    string `json:"name"`
}

// Info identifies a loaded ruleset; every report records it.
type Info struct {
	Version string     `json:"version"`
	SHA256  string     `json:"sha256"`
	Rules   int        `json:"rules"`
	Files   []FileInfo `json:"files"`
}

// Set is a validated, read-only collection of rules from one or more files.
type Set struct {
	files []File
	info  Info
	rules []*Rule
}

// Info returns the set's identity.
func (s *Set) Info() Info {
	out := s.info
	out.Files = append([]FileInfo(nil), s.info.Files...)
	return out
}

// Rules returns the rules in file order, built-in first. Callers must not
// modify them.
func (s *Set) Rules() []*Rule { return s.rules }

// Rule returns the rule with the given id, or nil.
func (s *Set) Rule(id string) *Rule {
	for _, r := range s.rules {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// Sources resolves a rule's source ids against the file that defined it.
func (s *Set) Sources(r *Rule) []Source {
	if r.file < 0 || r.file >= len(s.files) {
		return nil
	}
	var out []Source
	for _, id := range r.Sources {
		for _, src := range s.files[r.file].Sources {
			if src.ID == id {
				out = append(out, src)
			}
		}
	}
	return out
}

// File returns the description of the file that defined r.
func (s *Set) File(r *Rule) FileInfo {
	if r.file < 0 || r.file >= len(s.info.Files) {
		return FileInfo{}
	}
	return s.info.Files[r.file]
}

// BuiltinPath is how the embedded ruleset is named in Info.Files.
const BuiltinPath = "builtin:cve-2024-3094.json"

// Builtin returns the embedded ruleset alone.
func Builtin() (*Set, error) { return Load() }

// Load returns the built-in rules plus those of each user file, in order.
// Rule ids must be unique across all files.
func Load(paths ...string) (*Set, error) {
	srcs := []namedBytes{{name: BuiltinPath, data: builtinJSON}}
	for _, p := range paths {
		b, err := readBounded(p)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, namedBytes{name: p, data: b})
	}
	return build(srcs)
}

// LoadBytes builds a set from the built-in rules plus rule files given as
// bytes (name is used in errors and Info).
func LoadBytes(name string, data []byte) (*Set, error) {
	return build([]namedBytes{{name: BuiltinPath, data: builtinJSON}, {name: name, data: data}})
}

// Verify validates one rule file on its own and returns its identity.
func Verify(p string) (Info, error) {
	b, err := readBounded(p)
	if err != nil {
		return Info{}, err
	}
	s, err := build([]namedBytes{{name: p, data: b}})
	if err != nil {
		return Info{}, err
	}
	return s.Info(), nil
}

type namedBytes struct {
	name string
	data []byte
}

func readBounded(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("rules %s: %w", p, err)
	}
	if len(b) > MaxFileBytes {
		return nil, &Error{File: p, Err: fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxFileBytes)}
	}
	return b, nil
}

func build(srcs []namedBytes) (*Set, error) {
	s := &Set{}
	all := sha256.New()
	ids := map[string]string{} // rule id -> file that defined it
	var versions []string
	for i, src := range srcs {
		f, err := Parse(src.name, src.data)
		if err != nil {
			return nil, err
		}
		for j := range f.Rules {
			r := &f.Rules[j]
			if prev, dup := ids[r.ID]; dup {
				return nil, &Error{File: src.name, Rule: r.ID, Field: "id", Err: fmt.Errorf("%w: already defined in %s", ErrInvalid, prev)}
			}
			ids[r.ID] = src.name
			r.file = i
		}
		s.files = append(s.files, *f)
		sum := sha256.Sum256(src.data)
		// JSON values delimit themselves, so the plain concatenation is
		// unambiguous; with the built-in file alone the set's sha256 is
		// that file's sha256.
		all.Write(src.data)
		s.info.Files = append(s.info.Files, FileInfo{Path: src.name, SHA256: hex.EncodeToString(sum[:]), Version: f.Version, Name: f.Name})
		if i == 0 {
			versions = append(versions, f.Version)
		} else {
			versions = append(versions, f.Name+"@"+f.Version)
		}
	}
	for i := range s.files {
		for j := range s.files[i].Rules {
			s.rules = append(s.rules, &s.files[i].Rules[j])
		}
	}
	s.info.SHA256 = hex.EncodeToString(all.Sum(nil))
	s.info.Version = strings.Join(versions, "+")
	s.info.Rules = len(s.rules)
	return s, nil
}

// Parse decodes and validates one rule file. name is used in errors.
func Parse(name string, data []byte) (*File, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		var re *ruleDecodeError
		if errors.As(err, &re) {
			// Offsets inside the rule's own bytes would not point into
			// the file; the rule's id does.
			return nil, &Error{File: name, Rule: re.id, Err: fmt.Errorf("%w: %v", ErrInvalid, re.err)}
		}
		return nil, &Error{File: name, Err: fmt.Errorf("%w: %s", ErrInvalid, jsonErr(data, err))}
	}
	if dec.More() {
		return nil, &Error{File: name, Err: fmt.Errorf("%w: trailing data after the JSON object at offset %d", ErrInvalid, dec.InputOffset())}
	}
	if err := f.validate(name); err != nil {
		return nil, err
	}
	return &f, nil
}

// jsonErr adds the byte offset to a decoding error where json knows it.
func jsonErr(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%v at offset %d", err, se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("%v at offset %d", err, te.Offset)
	}
	return err.Error()
}

var (
	idRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func (f *File) validate(name string) error {
	bad := func(rule, field, format string, a ...any) error {
		return &Error{File: name, Rule: rule, Field: field, Err: fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))}
	}
	if f.Schema != Schema {
		return bad("", "schema", "is %q, want %q", f.Schema, Schema)
	}
	if strings.TrimSpace(f.Name) == "" {
		return bad("", "name", "is empty")
	}
	if strings.TrimSpace(f.Version) == "" {
		return bad("", "version", "is empty")
	}
	srcs := map[string]bool{}
	for i, s := range f.Sources {
		field := fmt.Sprintf("sources[%d]", i)
		if !idRE.MatchString(s.ID) {
			return bad("", field+".id", "%q is not a valid id", s.ID)
		}
		if srcs[s.ID] {
			return bad("", field+".id", "duplicate source %q", s.ID)
		}
		if strings.TrimSpace(s.Ref) == "" {
			return bad("", field+".ref", "is empty")
		}
		srcs[s.ID] = true
	}
	if len(f.Rules) == 0 {
		return bad("", "rules", "no rules")
	}
	seen := map[string]bool{}
	for i := range f.Rules {
		r := &f.Rules[i]
		if !idRE.MatchString(r.ID) {
			return bad(r.ID, fmt.Sprintf("rules[%d].id", i), "%q is not a valid id (letters, digits, . _ -)", r.ID)
		}
		if seen[r.ID] {
			return bad(r.ID, "id", "duplicate rule id")
		}
		seen[r.ID] = true
		if err := r.validate(srcs); err != nil {
			var fe *fieldError
			if errors.As(err, &fe) {
				return bad(r.ID, fe.field, "%s", fe.msg)
			}
			return bad(r.ID, "", "%v", err)
		}
	}
	return nil
}

type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func ferr(field, format string, a ...any) error {
	return &fieldError{field: field, msg: fmt.Sprintf(format, a...)}
}

func checkSources(field string, ids []string, srcs map[string]bool) error {
	for _, id := range ids {
		if !srcs[id] {
			return ferr(field, "source %q is not defined in the file's sources", id)
		}
	}
	return nil
}

func (r *Rule) validate(srcs map[string]bool) error {
	if strings.TrimSpace(r.Title) == "" {
		return ferr("title", "is empty")
	}
	if r.Severity < finding.Info || r.Severity > finding.Critical {
		return ferr("severity", "out of range")
	}
	if len(r.Sources) == 0 {
		return ferr("sources", "a rule needs at least one source")
	}
	if err := checkSources("sources", r.Sources, srcs); err != nil {
		return err
	}
	switch r.Context {
	case "", ContextLiblzma:
	default:
		return ferr("context", "unknown context %q (want %q or none)", r.Context, ContextLiblzma)
	}
	kinds := 0
	for _, set := range []bool{len(r.Digests) > 0, r.Signature != nil, r.Package != nil, len(r.Path) > 0, r.Marker != nil, r.Image != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return ferr("kind", "a rule needs exactly one of digests, signature, package, path, marker, image (has %d)", kinds)
	}
	switch r.Kind() {
	case KindDigest:
		dup := map[string]bool{}
		for i, d := range r.Digests {
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
	case KindSignature:
		s := r.Signature
		if len(s.Patterns) == 0 {
			return ferr("signature.patterns", "no patterns")
		}
		for i, p := range s.Patterns {
			if _, err := ParsePattern(p); err != nil {
				return ferr(fmt.Sprintf("signature.patterns[%d]", i), "%v", err)
			}
		}
		if s.Match != MatchAll && s.Match != MatchAny {
			return ferr("signature.match", "is %q, want %q or %q", s.Match, MatchAll, MatchAny)
		}
		switch s.Scope {
		case ScopeLiblzma, ScopeELF, ScopeAny:
		default:
			return ferr("signature.scope", "is %q, want %q, %q or %q", s.Scope, ScopeLiblzma, ScopeELF, ScopeAny)
		}
		if s.MaxSize < 0 {
			return ferr("signature.max_size", "is negative")
		}
	case KindPackage:
		p := r.Package
		switch p.Ecosystem {
		case "dpkg", "rpm", "apk":
		default:
			return ferr("package.ecosystem", "is %q, want dpkg, rpm or apk", p.Ecosystem)
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
			field := fmt.Sprintf("package.ranges[%d]", i)
			if rg.Fixed != "" && rg.LastAffected != "" {
				return ferr(field, "has both fixed and last_affected")
			}
			if rg.Introduced == "" && rg.Fixed == "" && rg.LastAffected == "" && len(rg.Versions) == 0 {
				return ferr(field, "is empty (need introduced, fixed, last_affected or versions)")
			}
		}
	case KindPath:
		for i, g := range r.Path {
			if _, err := path.Match(g, ""); err != nil || g == "" || strings.Contains(g, "/") {
				return ferr(fmt.Sprintf("path[%d]", i), "%q is not a file-name glob", g)
			}
		}
	case KindMarker:
		m := r.Marker
		if len(m.Strings) == 0 {
			return ferr("marker.strings", "no strings")
		}
		for i, s := range m.Strings {
			if len(s) < 4 {
				return ferr(fmt.Sprintf("marker.strings[%d]", i), "%q is shorter than 4 bytes", s)
			}
		}
		if m.Match != MatchAll && m.Match != MatchAny {
			return ferr("marker.match", "is %q, want %q or %q", m.Match, MatchAll, MatchAny)
		}
		for i, g := range m.Files {
			if _, err := path.Match(g, ""); err != nil || g == "" || strings.Contains(g, "/") {
				return ferr(fmt.Sprintf("marker.files[%d]", i), "%q is not a file-name glob", g)
			}
		}
	case KindImage:
		if len(r.Image.ManifestDigests) == 0 {
			return ferr("image.manifest_digests", "no digests")
		}
		for i, d := range r.Image.ManifestDigests {
			field := fmt.Sprintf("image.manifest_digests[%d]", i)
			if !strings.HasPrefix(d.Digest, "sha256:") || !sha256RE.MatchString(strings.TrimPrefix(d.Digest, "sha256:")) {
				return ferr(field+".digest", "%q is not sha256:<64 hex>", d.Digest)
			}
			if strings.TrimSpace(d.Tag) == "" {
				return ferr(field+".tag", "is empty")
			}
		}
	}
	return nil
}
