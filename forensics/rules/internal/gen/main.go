// Command gen turns the sourced CVE-2024-3094 IOC data (schema iocs/v1) into
// the built-in strata.rules/v1 ruleset. Every rule keeps the source ids of
// the facts it was made from; the sources themselves are copied verbatim.
//
// What is deliberately left out: unlabeled_related_hashes (hashes nobody
// tied to a file, not proof of anything), memory-only indicators (the ED448
// key, the kill-switch string), the script strings of decoded stages (they
// occur in any write-up or YARA file). Every package entry of the IOC data
// becomes part of a package rule: an ecosystem the generator does not know
// is an error, never silently dropped.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/strata-forensics/strata/forensics/pkgdb"
)

// Version of the generated ruleset; bump it whenever the output changes.
const rulesetVersion = "2026.11.1"

func main() {
	in := flag.String("in", "", "IOC JSON (iocs/v1)")
	out := flag.String("out", "", "rule file to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	res, err := generate(b)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return os.WriteFile(out, res, 0o644)
}

type iocs struct {
	Schema  string   `json:"schema"`
	ID      string   `json:"id"`
	Sources []source `json:"sources"`
	Digests []struct {
		SHA256     string   `json:"sha256"`
		Artifact   string   `json:"artifact"`
		Distro     string   `json:"distro"`
		Version    string   `json:"version"`
		Kind       string   `json:"kind"`
		Sources    []string `json:"sources"`
		Confidence string   `json:"confidence"`
	} `json:"digests"`
	VersionOnly []struct {
		SHA256     string   `json:"sha256"`
		Artifact   string   `json:"artifact"`
		Version    string   `json:"version"`
		Sources    []string `json:"sources"`
		Confidence string   `json:"confidence"`
	} `json:"version_only_artifacts"`
	Signatures []struct {
		ID          string   `json:"id"`
		Hex         *string  `json:"hex"`
		ASCII       string   `json:"ascii"`
		Description string   `json:"description"`
		Sources     []string `json:"sources"`
	} `json:"signatures"`
	Packages []struct {
		Ecosystem   string   `json:"ecosystem"`
		Distro      string   `json:"distro"`
		Names       []string `json:"names"`
		BadVersions []string `json:"bad_versions"`
		Fixed       []string `json:"fixed_versions"`
		Sources     []string `json:"sources"`
		Notes       string   `json:"notes"`
	} `json:"packages"`
	DockerHub struct {
		Tags []struct {
			Tag    string `json:"tag"`
			Digest string `json:"digest"`
		} `json:"affected_debian_tags_with_manifest_digests"`
		Sources []string `json:"sources"`
	} `json:"docker_hub_report"`
}

type source struct {
	ID   string `json:"id"`
	Ref  string `json:"ref"`
	Note string `json:"note,omitempty"`
}

// The output types mirror forensics/rules; they are repeated here so that
// the field order of the generated file is fixed by this program alone.
type ruleFile struct {
	Schema      string   `json:"schema"`
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Description string   `json:"description"`
	Sources     []source `json:"sources"`
	Rules       []rule   `json:"rules"`
}

type rule struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Severity    string     `json:"severity"`
	Sources     []string   `json:"sources"`
	Description string     `json:"description"`
	Context     string     `json:"context,omitempty"`
	Digests     []digest   `json:"digests,omitempty"`
	Signature   *signature `json:"signature,omitempty"`
	Package     *pkg       `json:"package,omitempty"`
	Path        []string   `json:"path,omitempty"`
	Marker      *marker    `json:"marker,omitempty"`
	Image       *image     `json:"image,omitempty"`
}

type digest struct {
	SHA256   string   `json:"sha256"`
	Artifact string   `json:"artifact"`
	Note     string   `json:"note,omitempty"`
	Sources  []string `json:"sources"`
}

type signature struct {
	Patterns   []string `json:"patterns"`
	Match      string   `json:"match"`
	RequireELF bool     `json:"require_elf"`
	Scope      string   `json:"scope"`
	MaxSize    int64    `json:"max_size,omitempty"`
}

type pkg struct {
	Ecosystem string   `json:"ecosystem"`
	Names     []string `json:"names"`
	Ranges    []rng    `json:"ranges"`
	Note      string   `json:"note,omitempty"`
}

type rng struct {
	Introduced   string   `json:"introduced,omitempty"`
	Fixed        string   `json:"fixed,omitempty"`
	LastAffected string   `json:"last_affected,omitempty"`
	Versions     []string `json:"versions,omitempty"`
}

type marker struct {
	Strings []string `json:"strings"`
	Match   string   `json:"match"`
	Files   []string `json:"files,omitempty"`
}

type image struct {
	ManifestDigests []imageDigest `json:"manifest_digests"`
}

type imageDigest struct {
	Digest string `json:"digest"`
	Tag    string `json:"tag"`
}

// digestRules groups the IOC digests by kind into one rule each.
var digestRules = []struct {
	kinds    []string
	id       string
	title    string
	severity string
	context  string
	desc     string
}{
	{[]string{"backdoored-shared-object"}, "xz-backdoor-liblzma-digest", "Backdoored liblzma shared object (known digest)", "high", "liblzma",
		"A file's sha256 equals a liblzma build that carries the CVE-2024-3094 backdoor. Critical when an sshd that loads liblzma runs on x86-64 glibc in the same image."},
	{[]string{"injected-object"}, "xz-backdoor-injected-object-digest", "Injected backdoor object liblzma_la-crc64-fast.o (known digest)", "high", "",
		"The object file the malicious build script extracts from the test files and links into liblzma."},
	{[]string{"package-file"}, "xz-backdoor-package-file-digest", "Package file carrying a backdoored liblzma (known digest)", "high", "",
		"A package file (.deb) whose payload is a backdoored liblzma; installing it plants the backdoor."},
	{[]string{"release-tarball", "release-tar-inner", "release-signature"}, "xz-release-tarball-digest", "Malicious xz 5.6.0/5.6.1 release tarball or its signature (known digest)", "medium", "",
		"Upstream xz 5.6.0 and 5.6.1 release tarballs carry the injection scripts; building liblzma from them as a deb or rpm on x86-64 plants the backdoor. The decompressed tar stream's digest is also listed, for recompressed copies."},
	{[]string{"tarball-member"}, "xz-source-member-digest", "Malicious member of the xz 5.6.0/5.6.1 source tree (known digest)", "medium", "",
		"The trojaned build-to-host.m4, the generated configure and the test files that hide the payload."},
	{[]string{"decoded-stage"}, "xz-decoded-stage-digest", "Decoded stage of the xz backdoor build scripts (known digest)", "medium", "",
		"Shell stages decoded from the test files; someone ran or analysed the injection."},
}

var versionNoteRE = regexp.MustCompile(`\s*\(.*\)\s*$`)

func generate(in []byte) ([]byte, error) {
	var d iocs
	dec := json.NewDecoder(bytes.NewReader(in))
	if err := dec.Decode(&d); err != nil {
		return nil, err
	}
	if d.Schema != "iocs/v1" {
		return nil, fmt.Errorf("schema %q, want iocs/v1", d.Schema)
	}
	out := ruleFile{
		Schema:  "strata.rules/v1",
		Name:    "strata-builtin-" + strings.ToLower(d.ID),
		Version: rulesetVersion,
		Description: "Built-in " + d.ID + " (xz/liblzma backdoor) rules, generated from the sourced IOC data in " +
			"forensics/rules/builtin/source by forensics/rules/internal/gen. Do not edit by hand.",
		Sources: d.Sources,
	}

	for _, g := range digestRules {
		r := rule{ID: g.id, Title: g.title, Severity: g.severity, Description: g.desc, Context: g.context}
		for _, x := range d.Digests {
			if !contains(g.kinds, x.Kind) {
				continue
			}
			note := fmt.Sprintf("%s %s, %s; %s", x.Kind, x.Version, x.Distro, x.Confidence)
			r.Digests = append(r.Digests, digest{SHA256: x.SHA256, Artifact: x.Artifact, Note: note, Sources: x.Sources})
			r.Sources = union(r.Sources, x.Sources)
		}
		if len(r.Digests) == 0 {
			return nil, fmt.Errorf("no digests of kind %v", g.kinds)
		}
		out.Rules = append(out.Rules, r)
	}
	if len(d.VersionOnly) > 0 {
		r := rule{ID: "xz-affected-build-digest", Title: "Build of an affected xz version without the payload (known digest)", Severity: "low",
			Description: "Binary packages of xz 5.6.0/5.6.1 built outside deb/rpm (e.g. Homebrew bottles): affected version, but the injection does not fire in these builds."}
		for _, x := range d.VersionOnly {
			r.Digests = append(r.Digests, digest{SHA256: x.SHA256, Artifact: x.Artifact, Note: "version " + x.Version + "; " + x.Confidence, Sources: x.Sources})
			r.Sources = union(r.Sources, x.Sources)
		}
		out.Rules = append(out.Rules, r)
	}

	sig := func(id string) (string, []string, string, error) {
		for _, s := range d.Signatures {
			if s.ID == id {
				if s.Hex == nil {
					return "", nil, "", fmt.Errorf("signature %s has no hex", id)
				}
				return *s.Hex, s.Sources, s.Description, nil
			}
		}
		return "", nil, "", fmt.Errorf("signature %s not in the IOC data", id)
	}
	prologue, psrc, _, err := sig("detect-sh-get-cpuid-prologue")
	if err != nil {
		return nil, err
	}
	out.Rules = append(out.Rules, rule{
		ID: "xz-backdoor-get-cpuid-prologue", Title: "Backdoor _get_cpuid prologue (openwall detect.sh signature)", Severity: "high", Context: "liblzma",
		Sources:     psrc,
		Description: "The entry of the malicious _get_cpuid replacement, the byte string the openwall detect.sh script greps for. Catches rebuilds whose digest nobody published.",
		Signature:   &signature{Patterns: []string{prologue}, Match: "any", RequireELF: true, Scope: "liblzma"},
	})
	var ops []string
	var osrc []string
	for _, id := range []string{"sigbase-elastic-op1", "sigbase-elastic-op2", "sigbase-elastic-op3"} {
		h, s, _, err := sig(id)
		if err != nil {
			return nil, err
		}
		ops, osrc = append(ops, h), union(osrc, s)
	}
	out.Rules = append(out.Rules, rule{
		ID: "xz-backdoor-code-fragments", Title: "Backdoor code fragments op1+op2+op3 (Neo23x0 / Elastic)", Severity: "high", Context: "liblzma",
		Sources:     osrc,
		Description: "Three code fragments of the backdoor that must all be present in one ELF file.",
		Signature:   &signature{Patterns: ops, Match: "all", RequireELF: true, Scope: "liblzma"},
	})
	a2, asrc, _, err := sig("craiu-a2")
	if err != nil {
		return nil, err
	}
	out.Rules = append(out.Rules, rule{
		ID: "xz-backdoor-craiu-a2", Title: "Backdoor code fragment (Costin Raiu's second pattern)", Severity: "high", Context: "liblzma",
		Sources:     asrc,
		Description: "movabs rdi,0x3030303030303030 sequence of the backdoor, in an ELF file under 10 MB as the original rule requires.",
		Signature:   &signature{Patterns: []string{a2}, Match: "any", RequireELF: true, Scope: "liblzma", MaxSize: 10 << 20},
	})

	// The m4 marker: the IOC data's ascii plus the second injected line it
	// quotes in the description (checked to be there, not typed anew).
	m4 := findSig(d, "m4-gl_am_configmake")
	if m4 == nil {
		return nil, fmt.Errorf("signature m4-gl_am_configmake not in the IOC data")
	}
	const pathMap = `gl_path_map='tr "\t \-_" " \t_\-"'`
	if !strings.Contains(m4.Description, pathMap) {
		return nil, fmt.Errorf("m4-gl_am_configmake description no longer quotes %s", pathMap)
	}
	out.Rules = append(out.Rules, rule{
		ID: "xz-build-to-host-m4-injection", Title: "Trojaned build-to-host.m4 (serial 30) injection code", Severity: "medium",
		Sources:     m4.Sources,
		Description: "Lines of the malicious build-to-host.m4 that find and unpack the payload from the test files; the tarball's generated configure carries them too.",
		Marker:      &marker{Strings: []string{m4.ASCII, pathMap}, Match: "any", Files: []string{"build-to-host.m4", "configure"}},
	})
	hello := findSig(d, "test-file-markers")
	if hello == nil {
		return nil, fmt.Errorf("signature test-file-markers not in the IOC data")
	}
	out.Rules = append(out.Rules, rule{
		ID: "xz-test-file-marker", Title: "Payload carrier test file (####Hello#### marker)", Severity: "medium",
		Sources:     hello.Sources,
		Description: "The marker the malicious build-to-host.m4 greps for in tests/files/bad-3-corrupt_lzma2.xz.",
		Marker:      &marker{Strings: []string{hello.ASCII}, Match: "any", Files: []string{"bad-3-corrupt_lzma2.xz"}},
	})

	var tarSrc []string
	for _, x := range d.Digests {
		if x.Kind == "release-tarball" {
			tarSrc = union(tarSrc, x.Sources)
		}
	}
	out.Rules = append(out.Rules, rule{
		ID: "xz-release-tarball-name", Title: "xz 5.6.0/5.6.1 source tarball by name", Severity: "low",
		Sources:     tarSrc,
		Description: "A file named like an xz 5.6.0 or 5.6.1 release tarball. The name alone proves nothing; strata opens it and runs the digest and marker rules on its members.",
		Path:        []string{"xz-5.6.[01].tar", "xz-5.6.[01].tar.gz", "xz-5.6.[01].tar.xz", "xz-5.6.[01].tar.bz2"},
	})

	pkgRules, err := packageRules(d)
	if err != nil {
		return nil, err
	}
	out.Rules = append(out.Rules, pkgRules...)

	var imgs []imageDigest
	for _, t := range d.DockerHub.Tags {
		imgs = append(imgs, imageDigest{Digest: t.Digest, Tag: t.Tag})
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("no affected image digests")
	}
	out.Rules = append(out.Rules, rule{
		ID: "xz-backdoor-known-image", Title: "Published image reported to carry the backdoored liblzma", Severity: "high",
		Sources:     d.DockerHub.Sources,
		Description: "Docker Hub Debian images of 2024-03-11 that Binarly reported as still shipping liblzma.so.5.6.0 (319feb5a…).",
		Image:       &image{ManifestDigests: imgs},
	})

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type sigEntry = struct {
	ID          string   `json:"id"`
	Hex         *string  `json:"hex"`
	ASCII       string   `json:"ascii"`
	Description string   `json:"description"`
	Sources     []string `json:"sources"`
}

func findSig(d iocs, id string) *sigEntry {
	for i := range d.Signatures {
		if d.Signatures[i].ID == id {
			return (*sigEntry)(&d.Signatures[i])
		}
	}
	return nil
}

// noteDebRPM is what a dpkg, rpm or apk version alone means.
const noteDebRPM = "the version alone does not mean the payload is there (only deb and rpm builds on x86-64 received it, never musl or apk builds)"

// ecosystems maps the IOC data's ecosystem names to strata's, in the order
// the package rules are made, with where each keeps its packages and what
// an affected version alone means there (the package rule's note, which a
// finding carries when no binary rule matched in the same image). The notes
// restate the IOC data's exploitability section and each entry's notes.
var ecosystems = []struct {
	ioc   []string
	eco   string
	where string
	note  string
}{
	{[]string{"dpkg"}, "dpkg", "dpkg database", noteDebRPM},
	{[]string{"rpm"}, "rpm", "rpm database", noteDebRPM},
	{[]string{"apk"}, "apk", "apk database", noteDebRPM},
	{[]string{"arch", "pacman"}, "pacman", "pacman database (/var/lib/pacman/local)",
		"Arch builds its packages with makepkg, neither as a deb nor as an rpm, so the injected build step did not fire (Arch: the injection did not trigger in its builds, and its sshd does not link liblzma): the version alone is low"},
	{[]string{"brew", "homebrew"}, "brew", "Homebrew Cellar",
		"Homebrew builds its bottles neither as a deb nor as an rpm, so the injected build step was not expected to fire: the version alone is low"},
	{[]string{"nix"}, "nix", "Nix store",
		"nixpkgs builds neither debs nor rpms, so the injected build step did not fire, and NixOS's sshd does not link liblzma: the version alone is low"},
	{[]string{"conda"}, "conda", "conda environment",
		"conda packages are built neither as debs nor as rpms, so the injected build step did not fire: the version alone is low"},
	{[]string{"gentoo", "portage"}, "portage", "Gentoo package database (/var/db/pkg)",
		"Gentoo builds with portage, neither as a deb nor as an rpm, and its OpenSSH carries no systemd-notify patch (GLSA 202403-04): the version alone is low"},
}

// packageRules makes one rule per ecosystem, each with the IOC data's
// affected versions of every distribution entry of that ecosystem.
func packageRules(d iocs) ([]rule, error) {
	type acc struct {
		names   []string
		ranges  []rng
		sources []string
		distros []string
	}
	ecoOf := map[string]string{}
	for _, e := range ecosystems {
		for _, n := range e.ioc {
			ecoOf[n] = e.eco
		}
	}
	legacy := map[string]bool{"dpkg": true, "rpm": true, "apk": true}
	by := map[string]*acc{}
	for _, p := range d.Packages {
		eco, ok := ecoOf[p.Ecosystem]
		if !ok {
			return nil, fmt.Errorf("package entry %q (%s): unknown ecosystem %q", p.Distro, strings.Join(p.Names, ", "), p.Ecosystem)
		}
		a := by[eco]
		if a == nil {
			a = &acc{}
			by[eco] = a
		}
		a.names = union(a.names, p.Names)
		a.sources = union(a.sources, p.Sources)
		a.distros = append(a.distros, p.Distro)
		var exact []string
		for _, v := range p.BadVersions {
			v = strings.TrimSpace(versionNoteRE.ReplaceAllString(v, ""))
			// dpkg, rpm, apk: "5.6.1" with no revision (Wolfi) is covered
			// by the range below.
			if v != "" && (!legacy[eco] || strings.ContainsAny(v, "-")) {
				exact = union(exact, []string{v})
			}
		}
		if len(exact) > 0 {
			a.ranges = append(a.ranges, rng{Versions: exact})
		}
		if !legacy[eco] && len(exact) > 0 {
			r, err := fixedRange(pkgdb.Ecosystem(eco), exact, p.Fixed)
			if err != nil {
				return nil, fmt.Errorf("package entry %q: %w", p.Distro, err)
			}
			if r != nil {
				a.ranges = append(a.ranges, *r)
			}
		}
	}
	// Ranges that the advisories state as ranges rather than lists.
	if a := by["dpkg"]; a != nil {
		// DSA-5649-1's conservative range; 5.6.1+really5.4.5-1 sorts above
		// 5.6.1-1 in dpkg order and so stays out.
		a.ranges = append(a.ranges, rng{Introduced: "5.5.1alpha-0.1", LastAffected: "5.6.1-1"})
	}
	if a := by["rpm"]; a != nil {
		// Every 5.6.0 and 5.6.1 build: a release-less last_affected covers
		// every release of 5.6.1, while openSUSE's 5.6.1.revertto5.4 and
		// later upstream versions sort above it.
		a.ranges = append(a.ranges, rng{Introduced: "5.6.0", LastAffected: "5.6.1"})
	}
	if a := by["apk"]; a != nil {
		// Alpine edge r0/r1 and Wolfi's 5.6.x builds; fixed in Alpine r2.
		a.ranges = append(a.ranges, rng{Introduced: "5.6.0-r0", Fixed: "5.6.1-r2"})
	}
	var out []rule
	for _, e := range ecosystems {
		a := by[e.eco]
		if a == nil {
			continue
		}
		sort.Strings(a.names)
		why := "Only deb and rpm builds on x86-64 received the payload; the version alone is low, a binary match in the same image raises it."
		if !legacy[e.eco] {
			why = "The injected build step targeted deb and rpm builds on x86-64 only, and this ecosystem makes neither; the version alone is low, a binary match in the same image raises it."
		}
		out = append(out, rule{
			ID:          "xz-affected-package-" + e.eco,
			Title:       "xz/liblzma package at a CVE-2024-3094 affected version (" + e.eco + ")",
			Severity:    "low",
			Sources:     a.sources,
			Description: "The " + e.where + " lists an xz/liblzma version that shipped the backdoored release (" + strings.Join(a.distros, "; ") + "). " + why,
			Package:     &pkg{Ecosystem: e.eco, Names: a.names, Ranges: a.ranges, Note: e.note},
		})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no package entries")
	}
	return out, nil
}

// fixedRange makes {introduced: the lowest affected version, fixed: the
// first fixed version} when that fix sorts above every affected version in
// the ecosystem's own order: a fix that is a downgrade (Homebrew's and
// nixpkgs' revert to 5.4.6) makes no range, and the exact versions stand
// alone.
func fixedRange(eco pkgdb.Ecosystem, bad, fixed []string) (*rng, error) {
	low, high := bad[0], bad[0]
	for _, v := range bad[1:] {
		c, err := pkgdb.Compare(eco, v, low)
		if err != nil {
			return nil, err
		}
		if c < 0 {
			low = v
		}
		if c, _ = pkgdb.Compare(eco, v, high); c > 0 {
			high = v
		}
	}
	for _, f := range fixed {
		f = strings.TrimSpace(versionNoteRE.ReplaceAllString(f, ""))
		if f == "" {
			continue
		}
		c, err := pkgdb.Compare(eco, f, high)
		if err != nil || c <= 0 {
			continue // not a version of this ecosystem ("< 5.6.0"), or a downgrade
		}
		return &rng{Introduced: low, Fixed: f}, nil
	}
	return nil, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// union appends the items of b not yet in a, keeping order.
func union(a, b []string) []string {
	for _, x := range b {
		if !contains(a, x) {
			a = append(a, x)
		}
	}
	return a
}
