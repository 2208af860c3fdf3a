package rules

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/strata-forensics/strata/forensics/finding"
)

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

// validate checks the fields every rule has, then its kind's own (each
// kind's validate method sits beside its type in file.go). srcs are the
// file's source ids.
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
	if n := len(r.kinds()); n != 1 {
		return ferr("kind", "a rule needs exactly one of digests, signature, package, path, marker, image (has %d)", n)
	}
	switch r.Kind() {
	case KindDigest:
		return validateDigests(r.Digests, srcs)
	case KindSignature:
		return r.Signature.validate()
	case KindPackage:
		return r.Package.validate()
	case KindPath:
		return checkGlobs("path", r.Path)
	case KindMarker:
		return r.Marker.validate()
	case KindImage:
		return r.Image.validate()
	}
	return nil
}

// fieldError is a problem with one field of a rule; File.validate adds the
// file and the rule.
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

// checkMatch checks a signature's or marker's match mode.
func checkMatch(field, m string) error {
	if m != MatchAll && m != MatchAny {
		return ferr(field, "is %q, want %q or %q", m, MatchAll, MatchAny)
	}
	return nil
}

// checkGlobs checks base-name globs (a path rule's, a marker's files).
func checkGlobs(field string, globs []string) error {
	for i, g := range globs {
		if _, err := path.Match(g, ""); err != nil || g == "" || strings.Contains(g, "/") {
			return ferr(fmt.Sprintf("%s[%d]", field, i), "%q is not a file-name glob", g)
		}
	}
	return nil
}
