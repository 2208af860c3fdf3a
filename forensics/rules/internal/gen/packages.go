package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/strata-forensics/strata/forensics/pkgdb"
)

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

var versionNoteRE = regexp.MustCompile(`\s*\(.*\)\s*$`)

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
