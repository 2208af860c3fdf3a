package image

import (
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
)

var (
	// ErrNoMatch: a --image or --platform selects nothing.
	ErrNoMatch = errors.New("no image matches")
	// ErrAmbiguous: a digest prefix names more than one digest.
	ErrAmbiguous = errors.New("ambiguous digest prefix")
)

// minPrefix is the shortest digest prefix Filter accepts, as docker's
// short image ids are 12 hex digits.
const minPrefix = 12

// Filter selects images by name or digest and by platform. Each of names
// is matched against every image name, exactly or after docker's
// normalisation ("debian" is "docker.io/library/debian:latest"), and else
// against manifest, config and index digests, in full or by a unique prefix
// of at least 12 hex digits (with or without "sha256:"). platform is
// os/arch[/variant]; without a variant it matches every variant. Empty
// names or platform select everything. Every name must match something;
// the error lists what is available.
func Filter(imgs []*Image, names []string, platform string) ([]*Image, error) {
	selected := map[*Image]bool{}
	for _, q := range names {
		q = strings.TrimSpace(q)
		matched, err := matchQuery(imgs, q)
		if err != nil {
			return nil, err
		}
		if len(matched) == 0 {
			return nil, fmt.Errorf("%w %q; available: %s", ErrNoMatch, q, available(imgs))
		}
		for _, img := range matched {
			selected[img] = true
		}
	}
	var want platformSpec
	if platform != "" {
		var err error
		if want, err = parsePlatform(platform); err != nil {
			return nil, err
		}
	}
	var out []*Image
	for _, img := range imgs {
		if len(names) > 0 && !selected[img] {
			continue
		}
		if platform != "" && !want.matches(img.Platform) {
			continue
		}
		out = append(out, img)
	}
	if len(out) == 0 {
		what := "platform " + platform
		if len(names) > 0 {
			what = fmt.Sprintf("%q on platform %s", names, platform)
		}
		return nil, fmt.Errorf("%w %s; available: %s", ErrNoMatch, what, available(imgs))
	}
	return out, nil
}

func matchQuery(imgs []*Image, q string) ([]*Image, error) {
	var out []*Image
	nq := Normalize(q)
	for _, img := range imgs {
		if c := img.Container; c != nil && matchContainer(c, q) {
			out = append(out, img)
			continue
		}
		for _, n := range img.Names {
			if n == q || (nq != "" && Normalize(n) == nq) {
				out = append(out, img)
				break
			}
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	d, err := matchDigest(imgs, q)
	if err != nil || d == "" {
		return nil, err
	}
	for _, img := range imgs {
		for _, id := range imageDigests(img) {
			if id == d {
				out = append(out, img)
				break
			}
		}
	}
	return out, nil
}

func imageDigests(img *Image) []digest.Digest {
	ds := []digest.Digest{img.ManifestDigest, img.ConfigDigest}
	return append(ds, img.IndexDigests...)
}

// matchDigest returns the one digest q is, or is a prefix of.
func matchDigest(imgs []*Image, q string) (digest.Digest, error) {
	alg, hex, ok := strings.Cut(q, ":")
	if !ok {
		alg, hex = "", q
	}
	if len(hex) < minPrefix || !isHex(hex) {
		return "", nil
	}
	found := map[digest.Digest]bool{}
	var list []string
	for _, img := range imgs {
		for _, d := range imageDigests(img) {
			if d == "" || found[d] || (alg != "" && string(d.Algorithm()) != alg) {
				continue
			}
			if strings.HasPrefix(d.Encoded(), hex) {
				found[d] = true
				list = append(list, d.String())
			}
		}
	}
	switch len(list) {
	case 0:
		return "", nil
	case 1:
		return digest.Digest(list[0]), nil
	}
	return "", fmt.Errorf("%w %q: %s", ErrAmbiguous, q, strings.Join(list, ", "))
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// available lists images as "name (digest, platform)" for error messages.
func available(imgs []*Image) string {
	if len(imgs) == 0 {
		return "none"
	}
	var parts []string
	for i, img := range imgs {
		if i == 20 {
			parts = append(parts, fmt.Sprintf("and %d more", len(imgs)-i))
			break
		}
		id := img.ManifestDigest
		if id == "" {
			id = img.ConfigDigest
		}
		s := img.Ref()
		if s != id.String() && id != "" {
			s += " (" + short(id)
			if img.Platform != "" {
				s += ", " + img.Platform
			}
			s += ")"
		} else if img.Platform != "" {
			s += " (" + img.Platform + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func short(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > minPrefix {
		e = e[:minPrefix]
	}
	return string(d.Algorithm()) + ":" + e
}

// Normalize expands an image reference as docker does: a missing registry
// is docker.io, a single docker.io path component is under library/, and a
// missing tag is latest. It returns "" for an empty reference.
func Normalize(ref string) string {
	if ref == "" {
		return ""
	}
	name, dig, hasDigest := strings.Cut(ref, "@")
	tag := ""
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, tag = name[:i], name[i+1:]
	}
	domain, rest := "docker.io", name
	if i := strings.IndexByte(name, '/'); i >= 0 {
		first := name[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first {
			domain, rest = first, name[i+1:]
		}
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	out := domain + "/" + rest
	if tag == "" && !hasDigest {
		tag = "latest"
	}
	if tag != "" {
		out += ":" + tag
	}
	if hasDigest {
		out += "@" + dig
	}
	return out
}

type platformSpec struct{ os, arch, variant string }

func parsePlatform(s string) (platformSpec, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return platformSpec{}, fmt.Errorf("platform %q: want os/arch[/variant]", s)
	}
	p := platformSpec{os: parts[0], arch: parts[1]}
	if len(parts) == 3 {
		p.variant = parts[2]
	}
	return p, nil
}

// matches compares with an image's os/arch[/variant]; arm64's default
// variant v8 may be written or left out on either side.
func (p platformSpec) matches(platform string) bool {
	got, err := parsePlatform(platform)
	if err != nil || got.os != p.os || got.arch != p.arch {
		return false
	}
	if p.variant == "" {
		return true
	}
	norm := func(v string) string {
		if v == "" && p.arch == "arm64" {
			return "v8"
		}
		return v
	}
	return norm(got.variant) == norm(p.variant)
}

// matchContainer reports whether q names container c: by its name (with
// or without docker's leading slash, or as its Ref "container:NAME"), by
// its whole ID (containerd's are any string), or by a prefix of at least
// 12 of its hex digits, as docker ps shows it.
func matchContainer(c *Container, q string) bool {
	name := strings.TrimPrefix(strings.TrimPrefix(q, "container:"), "/")
	if c.Name != "" && name == c.Name || c.ID != "" && name == c.ID {
		return true
	}
	return len(name) >= minPrefix && isHex(name) && strings.HasPrefix(c.ID, name)
}
