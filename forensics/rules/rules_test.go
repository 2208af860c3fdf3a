package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/finding"
)

func TestBuiltin(t *testing.T) {
	s, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	info := s.Info()
	sum := sha256.Sum256(builtinJSON)
	if info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("sha256 %s, want the embedded file's %x", info.SHA256, sum)
	}
	if info.Version != "2026.11.1" || len(info.Files) != 1 || info.Files[0].Path != BuiltinPath {
		t.Errorf("info %+v", info)
	}
	kinds := map[Kind]int{}
	for _, r := range s.Rules() {
		kinds[r.Kind()]++
		if len(s.Sources(r)) != len(r.Sources) {
			t.Errorf("rule %s: sources %v resolve to %v", r.ID, r.Sources, s.Sources(r))
		}
	}
	for _, k := range []Kind{KindDigest, KindSignature, KindPackage, KindPath, KindMarker, KindImage} {
		if kinds[k] == 0 {
			t.Errorf("built-in ruleset has no %s rule", k)
		}
	}
	r := s.Rule("xz-backdoor-liblzma-digest")
	if r == nil || r.Context != ContextLiblzma || r.Severity != finding.High {
		t.Fatalf("liblzma digest rule: %+v", r)
	}
	found := false
	for _, d := range r.Digests {
		found = found || d.SHA256 == "605861f833fc181c7cdcabd5577ddb8989bea332648a8f498b4eef89b8f85ad4"
	}
	if !found {
		t.Error("Debian 5.6.1-1 liblzma digest missing")
	}
	// Unlabelled hashes are not proof of anything and must stay out.
	for _, unl := range []string{"7de9505c6a9be2ff8b308140d28e9318a6045529f70a48bd7ce4115d263988cb", "ffcd092a7d9ec7d79a115e3e98f4509bee3e3977e401967140e2e5de061f8a0b"} {
		if strings.Contains(string(builtinJSON), unl) {
			t.Errorf("unlabelled hash %s is in the built-in rules", unl[:8])
		}
	}
}

// TestBuiltinPackageRules checks the package rules made from the IOC
// sheet: one per ecosystem it lists, low, each with a note that says what
// the version alone means, Arch's and Homebrew's at their published
// versions.
func TestBuiltinPackageRules(t *testing.T) {
	s, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, eco := range []string{"dpkg", "rpm", "apk", "pacman", "brew", "nix", "portage"} {
		r := s.Rule("xz-affected-package-" + eco)
		if r == nil || r.Package == nil || r.Package.Ecosystem != eco {
			t.Errorf("no package rule for %s: %+v", eco, r)
			continue
		}
		if r.Severity != finding.Low || r.Package.Note == "" {
			t.Errorf("%s: severity %s, note %q", r.ID, r.Severity, r.Package.Note)
		}
	}
	for _, c := range []struct{ eco, name, version, note string }{
		{"pacman", "xz", "5.6.1-1", "makepkg"}, {"pacman", "lib32-xz", "5.6.0-1", "makepkg"},
		{"brew", "xz", "5.6.1", "neither as a deb nor as an rpm"}, {"nix", "xz", "5.6.0", "nixpkgs"},
		{"portage", "app-arch/xz-utils", "5.6.1", "GLSA 202403-04"},
	} {
		r := s.Rule("xz-affected-package-" + c.eco)
		if r == nil || !slices.Contains(r.Package.Names, c.name) || !strings.Contains(r.Package.Note, c.note) {
			t.Errorf("%s: %+v", c.eco, r)
			continue
		}
		found := false
		for _, rg := range r.Package.Ranges {
			found = found || slices.Contains(rg.Versions, c.version)
		}
		if !found {
			t.Errorf("%s rule does not list %s %s", c.eco, c.name, c.version)
		}
	}
}

// TestUserEcosystems loads a user file naming every ecosystem strata reads.
func TestUserEcosystems(t *testing.T) {
	versions := map[string]string{"dpkg": "1.0-1", "rpm": "1:1.0-1", "apk": "1.0-r0", "pacman": "1:1.0-1", "brew": "1.0_1",
		"nix": "1.0pre1", "conda": "1!1.0.post1", "portage": "1.0_p1-r1"}
	var rs []string
	for eco, v := range versions {
		rs = append(rs, fmt.Sprintf(`{"id":"pkg-%s","title":"t","severity":"low","sources":["s"],"package":{"ecosystem":%q,"names":["x"],"ranges":[{"introduced":"0","fixed":%q}],"note":"n"}}`, eco, eco, v))
	}
	file := `{"schema":"strata.rules/v1","name":"ecos","version":"1","sources":[{"id":"s","ref":"r"}],"rules":[` + strings.Join(rs, ",") + `]}`
	set, err := LoadBytes("ecos.json", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	for eco := range versions {
		if r := set.Rule("pkg-" + eco); r == nil || r.Package.Ecosystem != eco || r.Package.Note != "n" {
			t.Errorf("%s: %+v", eco, r)
		}
	}
}

func TestLoadUserFile(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "example.rules.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Builtin()
	info := s.Info()
	if info.Rules != b.Info().Rules+6 {
		t.Errorf("rules %d, want built-in + 6", info.Rules)
	}
	if info.Version != "2026.11.1+example-incident@1" {
		t.Errorf("version %q", info.Version)
	}
	data, _ := os.ReadFile(filepath.Join("testdata", "example.rules.json"))
	sum := sha256.Sum256(append(append([]byte{}, builtinJSON...), data...))
	if info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("set sha256 is not over built-in then user bytes")
	}
	r := s.Rule("example-marker")
	if r == nil || s.File(r).Name != "example-incident" || s.Sources(r)[0].Ref != "https://example.org/incidents/42" {
		t.Errorf("example-marker: %+v %+v", r, s.File(r))
	}
	if _, err := Load(filepath.Join("testdata", "example.rules.json"), filepath.Join("testdata", "example.rules.json")); err == nil || !strings.Contains(err.Error(), "already defined") {
		t.Errorf("loading a file twice: %v", err)
	}
}

func TestInvalid(t *testing.T) {
	cases := []struct {
		file string
		want string // substring of the error: the field or problem named
	}{
		{"bad-schema.json", "schema"},
		{"no-version.json", "version: invalid rule file: is empty"},
		{"bad-severity.json", `rule "example-digest": invalid rule file: unknown severity "urgent"`},
		{"unknown-source.json", `rule "example-signature": sources: invalid rule file: source "nowhere"`},
		{"two-kinds.json", "exactly one of"},
		{"no-kind.json", `rule "example-path": kind`},
		{"bad-digest.json", "digests[0].sha256"},
		{"bad-pattern.json", "signature.patterns[0]"},
		{"short-anchor.json", "longest run of fixed bytes"},
		{"bad-match.json", "signature.match"},
		{"bad-scope.json", "signature.scope"},
		{"bad-ecosystem.json", "package.ecosystem"},
		{"bad-version.json", `package.ranges[0].fixed: invalid rule file: "v5.6.2" is not a portage version`},
		{"fixed-and-last.json", "package.ranges[0]"},
		{"bad-glob.json", "path[0]"},
		{"bad-image-digest.json", "image.manifest_digests[0].digest"},
		{"dup-rule.json", "duplicate rule id"},
		{"unknown-field.json", `: rule "example-digest": invalid rule file: json: unknown field "severty"`},
		{"bad-context.json", "context"},
		{"truncated.json", "unexpected EOF"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			p := filepath.Join("testdata", "invalid", c.file)
			_, err := Verify(p)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) && c.file != "truncated.json" {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name %s and %q", err, p, c.want)
			}
			if _, err := Load(p); err == nil {
				t.Error("Load accepted it")
			}
		})
	}
}

func TestVerify(t *testing.T) {
	info, err := Verify(filepath.Join("testdata", "example.rules.json"))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join("testdata", "example.rules.json"))
	sum := sha256.Sum256(data)
	if info.Rules != 6 || info.Version != "1" || info.Files[0].Name != "example-incident" || info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("%+v", info)
	}
	if _, err := Verify(filepath.Join("testdata", "missing.json")); err == nil {
		t.Error("missing file verified")
	}
}

func TestParsePattern(t *testing.T) {
	cases := []struct {
		name, in  string
		wantLen   int
		anchor    [2]int
		wantError string
	}{
		{"plain", "f30f1efa5548", 6, [2]int{0, 6}, ""},
		{"spaces and braces", "{ f3 0f 1e fa 55 48 }", 6, [2]int{0, 6}, ""},
		{"wildcards", "488d7c2408??????89c2aabbccddee", 15, [2]int{8, 15}, ""},
		{"upper case", "DEADBEEF", 4, [2]int{0, 4}, ""},
		{"odd", "abc", 0, [2]int{}, "odd number"},
		{"nibble", "ab?cdeadbeef", 0, [2]int{}, "nibble"},
		{"jump", "aabbccdd [2] ee", 0, [2]int{}, "not supported"},
		{"alternative", "aabbccdd ( ee | ff )", 0, [2]int{}, "not supported"},
		{"leading wildcard", "?? aabbccdd", 0, [2]int{}, "start and end"},
		{"short anchor", "aabb??ccdd", 0, [2]int{}, "longest run"},
		{"empty", "", 0, [2]int{}, "empty"},
		{"junk", "aabbccdd zz", 0, [2]int{}, "unexpected"},
		{"unbalanced", "{aabbccdd", 0, [2]int{}, "brace"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePattern(c.in)
			if c.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantError) {
					t.Fatalf("error %v, want %q", err, c.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s, e := p.Anchor()
			if p.Len() != c.wantLen || [2]int{s, e} != c.anchor {
				t.Errorf("len %d anchor %d-%d", p.Len(), s, e)
			}
		})
	}
	p, _ := ParsePattern("488d??08")
	for _, c := range []struct {
		in   []byte
		want bool
	}{{[]byte{0x48, 0x8d, 0x00, 0x08}, true}, {[]byte{0x48, 0x8d, 0xff, 0x08}, true}, {[]byte{0x48, 0x8d, 0xff, 0x09}, false}, {[]byte{0x48, 0x8d}, false}} {
		if got := p.Matches(c.in); got != c.want {
			t.Errorf("Matches(%x) = %v", c.in, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, g := range []string{"testdata/example.rules.json", "testdata/invalid/*.json"} {
		ms, _ := filepath.Glob(g)
		for _, m := range ms {
			b, err := os.ReadFile(m)
			if err == nil {
				f.Add(b)
			}
		}
	}
	f.Add(builtinJSON)
	f.Fuzz(func(t *testing.T, b []byte) {
		fl, err := Parse("fuzz.json", b)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.File != "fuzz.json" {
				t.Fatalf("error without file: %v", err)
			}
			return
		}
		for i := range fl.Rules {
			if fl.Rules[i].Kind() == "" {
				t.Fatalf("valid rule %s without kind", fl.Rules[i].ID)
			}
		}
	})
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"f30f1efa554889f54c89ce5389fb81e7000000804883ec28488954241848894c2410", "488d7c2408f3ab488d4424084889d14c89c74889c2e8????????89c2", "{ de ad be ef }", "??", "a[1-2]b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePattern(s)
		if err != nil {
			return
		}
		if len(p.Bytes) != len(p.Fixed) || len(p.Bytes) == 0 || len(p.Bytes) > MaxPatternBytes {
			t.Fatalf("bad compiled pattern %+v", p)
		}
		if st, e := p.Anchor(); e-st < MinAnchorBytes || !p.Fixed[st] {
			t.Fatalf("anchor %d-%d", st, e)
		}
		if !p.Matches(p.Bytes) {
			t.Fatal("pattern does not match its own bytes")
		}
	})
}
