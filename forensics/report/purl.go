package report

import (
	"path/filepath"
	"strings"

	packageurl "github.com/package-url/packageurl-go"
)

// imagePURL names an image as the purl spec's oci type does:
// pkg:oci/<last part of the repository, lower case>@<digest>. The name
// comes from the image's first name, else from the input file's name. No
// qualifier is added: a VEX consumer matches a product whose qualifiers
// are a subset of its own, and its repository_url may be spelled
// differently.
func imagePURL(img *Image, input, digest string) string {
	name := ""
	if len(img.Names) > 0 {
		name = repoName(img.Names[0])
	}
	if name == "" {
		name = inputName(input)
	}
	return packageurl.NewPackageURL(packageurl.TypeOCI, "", name, digest, nil, "").ToString()
}

// repoName returns the last path part of an image name, without tag or
// digest, in lower case: "docker.io/library/debian:sid" -> "debian".
func repoName(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	return purlToken(strings.ToLower(ref))
}

// inputName turns an input path into a name: the file name without its
// archive extensions.
func inputName(p string) string {
	base := filepath.Base(filepath.ToSlash(p))
	for {
		ext := filepath.Ext(base)
		switch strings.ToLower(ext) {
		case ".tar", ".gz", ".tgz", ".xz", ".zst", ".bz2", ".oci", ".docker", ".docker25":
			base = strings.TrimSuffix(base, ext)
			continue
		}
		break
	}
	if n := purlToken(strings.ToLower(base)); n != "" {
		return n
	}
	return "image"
}

// purlTypes maps a database's ecosystem to its package URL type; other
// ecosystems (nix, portage) get the generic type.
var purlTypes = map[string]string{
	"dpkg":   packageurl.TypeDebian,
	"rpm":    packageurl.TypeRPM,
	"apk":    packageurl.TypeApk,
	"pacman": packageurl.TypeAlpm,
	"conda":  packageurl.TypeConda,
	"brew":   packageurl.TypeBrew,
}

// distroTypes are the package URL types whose namespace is the
// distribution.
var distroTypes = map[string]bool{
	packageurl.TypeDebian: true, packageurl.TypeRPM: true, packageurl.TypeApk: true, packageurl.TypeAlpm: true,
}

// packagePURL names a package: pkg:deb/debian/liblzma5@5.6.1-1?arch=amd64.
// For a distribution's package the namespace is its os-release ID when
// known, and with distro the distro=<ID>-<VERSION_ID> qualifier is added
// (for an SBOM, not for VEX, where a consumer's own spelling of it would
// stop the match). rpm's epoch goes into a qualifier, as the spec asks. A
// generic package named "category/name" (portage) keeps the category as
// its namespace.
func (v *ImageVEX) packagePURL(p InventoryPackage, distro bool) string {
	typ, ok := purlTypes[string(p.Ecosystem)]
	if !ok {
		typ = packageurl.TypeGeneric
	}
	q := map[string]string{}
	if p.Arch != "" {
		q["arch"] = p.Arch
	}
	version := p.Version
	if typ == packageurl.TypeRPM {
		if e, rest, found := strings.Cut(version, ":"); found {
			q["epoch"] = e
			version = rest
		}
	}
	ns, name := "", p.Name
	if distroTypes[typ] {
		ns = v.os.ID
		if distro && v.os.ID != "" {
			q["distro"] = v.os.ID
			if v.os.VersionID != "" {
				q["distro"] += "-" + v.os.VersionID
			}
		}
	} else if i := strings.LastIndex(name, "/"); i > 0 && typ == packageurl.TypeGeneric {
		ns, name = name[:i], name[i+1:]
	}
	return packageurl.NewPackageURL(typ, ns, name, version, packageurl.QualifiersFromMap(q), "").ToString()
}
