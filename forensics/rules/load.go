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
	"strings"
)

// MaxFileBytes bounds a rule file; real ones are a few tens of KiB.
const MaxFileBytes = 16 << 20

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
