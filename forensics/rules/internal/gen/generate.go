package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

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
