package main

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
