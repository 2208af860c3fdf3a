// Package finding defines what a detector reports: one Finding per piece of
// evidence, naming the image, the layer and the path that carry it.
package finding

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Severity orders findings; higher is worse.
type Severity int

const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity accepts the lower-case names used in rules and reports.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return Info, fmt.Errorf("unknown severity %q (want one of %s)", s, strings.Join(severityNames[:], ", "))
}

func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// Kind says which detector produced a finding.
type Kind string

const (
	Digest    Kind = "digest"    // a file's sha256 is listed as known-bad
	Signature Kind = "signature" // a file's bytes match a byte signature
	Package   Kind = "package"   // a package database lists an affected version
	Nested    Kind = "nested"    // a member of a package or tarball lying in the image matched
	Marker    Kind = "marker"    // a textual injection marker (e.g. build-to-host.m4)
	Image     Kind = "image"     // the image's manifest or index digest is a known-affected image
	Anomaly   Kind = "anomaly"   // a layer entry no ordinary build writes (a name climbing out of the root, a device node)
)

// Pkg names a package as its database lists it.
type Pkg struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Ecosystem string `json:"ecosystem"` // dpkg, rpm, apk
}

// Finding is one piece of evidence. Layer is -1 for image-level findings.
type Finding struct {
	Rule        string   `json:"rule"`
	Kind        Kind     `json:"kind"`
	Severity    Severity `json:"severity"`
	Image       string   `json:"image"`
	Layer       int      `json:"layer"`
	LayerDigest string   `json:"layer_digest"`
	// Writable is set when the layer is a container's writable layer,
	// shown as "rw".
	Writable bool   `json:"writable,omitempty"`
	Path     string `json:"path"`
	SHA256   string `json:"sha256"`
	Present  bool   `json:"present"`
	// Drift is set when the bytes lie in the layer's folder on an
	// engine's host but not in the layer as it was pulled: "planted" (a
	// file the layer did not have) or "changed" (its bytes differ). The
	// layer's digest does not cover them; every container on the layer
	// sees them, unless a later layer hides the path (Present).
	Drift    string `json:"drift,omitempty"`
	Package  *Pkg   `json:"package"`
	Evidence string `json:"evidence"`
	Message  string `json:"message"`
}

// MarshalJSON keeps the field set stable: package is null when absent.
func (f Finding) MarshalJSON() ([]byte, error) {
	type plain Finding
	return json.Marshal(plain(f))
}

// Sort orders findings for stable output: by image, then layer, path, rule
// and evidence. Severity is not the primary key so that a report reads in
// layer order; Worst gives the headline.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Image != b.Image {
			return a.Image < b.Image
		}
		if a.Layer != b.Layer {
			return a.Layer < b.Layer
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Evidence < b.Evidence
	})
}

// Worst returns the highest severity among fs and whether there was any.
func Worst(fs []Finding) (Severity, bool) {
	w := Info
	for _, f := range fs {
		if f.Severity > w {
			w = f.Severity
		}
	}
	return w, len(fs) > 0
}
