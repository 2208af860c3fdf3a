package image

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// dockerEntry is one image of docker save's manifest.json.
type dockerEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
	// LayerSources describes foreign layers, keyed by diff ID.
	LayerSources map[string]ocispec.Descriptor `json:"LayerSources"`
}

// loadManifestJSON reads docker save's manifest.json. With an OCI layout
// already loaded (Docker 25+), entries add their RepoTags to the image
// whose config and layers they name, and only entries matching none are
// loaded on their own, as docker load would see them.
func (l *loader) loadManifestJSON(withOCI bool) error {
	const name = "manifest.json"
	l.reached[name] = true
	data, ok := l.readVerified(name, "", -1, name, "docker manifest")
	if !ok {
		if withOCI {
			return nil
		}
		return fmt.Errorf("%s: %w", name, ErrNoImages)
	}
	var entries []dockerEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		l.problem(name, integrity.BadJSON, "docker manifest: %v", err)
		if withOCI {
			return nil
		}
		return fmt.Errorf("%s: %w: %v", name, ErrNoImages, err)
	}
	repos := l.repositories()
	for i, e := range entries {
		if l.ctx.Err() != nil {
			return l.ctx.Err()
		}
		names := e.RepoTags
		if len(names) == 0 {
			names = repos[topLayerID(e.Layers)]
		}
		if withOCI && l.matchOCI(e, names) {
			continue
		}
		if withOCI && l.listedNotCarried(e) {
			continue
		}
		if e.Config == "" {
			l.problem(name, integrity.BadJSON, "entry %d has no Config", i)
			continue
		}
		l.legacy(e, names)
	}
	return nil
}

// repositories reads the legacy repositories file, {repo: {tag: top layer
// id}}, as a map from layer id to "repo:tag" names.
func (l *loader) repositories() map[string][]string {
	const name = "repositories"
	if _, ok := l.src.Stat(name); !ok {
		return nil
	}
	l.reached[name] = true
	data, ok := l.readVerified(name, "", -1, name, "repositories")
	if !ok {
		return nil
	}
	var repos map[string]map[string]string
	if err := json.Unmarshal(data, &repos); err != nil {
		l.problem(name, integrity.BadJSON, "repositories: %v", err)
		return nil
	}
	out := map[string][]string{}
	for repo, tags := range repos {
		for tag, id := range tags {
			out[id] = append(out[id], repo+":"+tag)
		}
	}
	for id := range out {
		sort.Strings(out[id])
	}
	return out
}

// topLayerID is how repositories names an image: its top layer's id, the
// folder of a legacy "<id>/layer.tar" or the hex of a blob.
func topLayerID(layers []string) string {
	if len(layers) == 0 {
		return ""
	}
	p := memberName(layers[len(layers)-1])
	if d := blob.FromPath(p); d != "" {
		return d.Encoded()
	}
	if dir, base := path.Split(p); base == "layer.tar" && dir != "" {
		return strings.TrimSuffix(dir, "/")
	}
	return strings.TrimSuffix(path.Base(p), ".tar")
}

// matchOCI adds names to the OCI images whose config and layer blobs are
// those of entry e. An image whose manifest lists the same layers in
// another order, or fewer of them, is Docker 25.0.0's map-ordered manifest
// (moby#47150): when manifest.json's order is the config's diff_ids, that
// order is taken and the defect noted.
func (l *loader) matchOCI(e dockerEntry, names []string) bool {
	cfg := blob.FromPath(memberName(e.Config))
	if cfg == "" {
		return false
	}
	listed := make([]digest.Digest, len(e.Layers))
	for i, p := range e.Layers {
		listed[i] = blob.FromPath(memberName(p))
	}
	matched := false
	for _, img := range l.images {
		if img.ManifestDigest == "" || img.ConfigDigest != cfg {
			continue
		}
		switch {
		case sameLayers(img, listed):
		case l.docker25Order(img, listed):
		default:
			continue
		}
		img.Names = append(img.Names, names...)
		matched = true
	}
	return matched
}

func sameLayers(img *Image, listed []digest.Digest) bool {
	if len(img.Layers) != len(listed) {
		return false
	}
	for i, d := range listed {
		if d != img.Layers[i].Digest {
			return false
		}
	}
	return true
}

// docker25Order puts img's layers in manifest.json's order when the
// manifest holds the same layers shuffled or with repeats collapsed, and
// manifest.json's order is exactly the config's diff_ids (Docker's classic
// store names an uncompressed layer by its diff_id). Anything else is left
// for the diff_id checks to report.
func (l *loader) docker25Order(img *Image, listed []digest.Digest) bool {
	if len(listed) < len(img.Layers) || len(listed) == 0 {
		return false
	}
	byDigest := map[digest.Digest]*Layer{}
	for _, layer := range img.Layers {
		byDigest[layer.Digest] = layer
	}
	if len(byDigest) != len(img.Layers) {
		return false // the manifest itself repeats a layer: not this defect
	}
	cfg := l.configs[img]
	if cfg == nil {
		return false
	}
	var cfgIDs []digest.Digest
	for _, s := range cfg.diffIDs() {
		cfgIDs = append(cfgIDs, digest.Digest(s))
	}
	if len(cfgIDs) != len(listed) {
		return false
	}
	used := map[digest.Digest]bool{}
	for i, d := range listed {
		if byDigest[d] == nil || d != cfgIDs[i] {
			return false
		}
		used[d] = true
	}
	if len(used) != len(byDigest) {
		return false
	}
	layers := make([]*Layer, len(listed))
	for i, d := range listed {
		src := byDigest[d]
		nl := *src
		nl.Index, nl.DiffID, nl.CreatedBy = i, cfgIDs[i], ""
		layers[i] = &nl
	}
	createdBy := cfg.createdBy()
	for i, layer := range layers {
		if i < len(createdBy) {
			layer.CreatedBy = createdBy[i]
		}
	}
	manifestLayers := len(img.Layers)
	img.Layers = layers
	l.record(integrity.Problem{Blob: img.ManifestDigest.String(), Kind: integrity.Defect, Reason: integrity.Docker25LayerOrder,
		Detail: fmt.Sprintf("the manifest lists its %d layer(s) out of order or with repeats collapsed, a Docker 25.0.0 defect (moby#47150, fixed in 25.0.1); manifest.json's %d layer(s), in the config's diff_ids order, are used", manifestLayers, len(layers))})
	return true
}

// listedNotCarried reports whether entry e of a manifest.json written beside
// an index names an image the archive does not carry: containerd's exporter
// lists the host platform's image even when skip-missing left its config
// and layers out. Layers it shares with a carried image are in the archive
// anyway; a layer of its own that is carried means the config alone is
// gone: that entry is read as an image (missing its config), not recorded.
func (l *loader) listedNotCarried(e dockerEntry) bool {
	name := memberName(e.Config)
	if _, ok := l.src.Stat(name); ok {
		return false
	}
	owned := map[string]bool{}
	for _, img := range l.images {
		for _, layer := range img.Layers {
			owned[layer.Blob] = true
		}
	}
	absent := 0
	for _, p := range e.Layers {
		lp := memberName(p)
		_, ok := l.src.Stat(lp)
		switch {
		case !ok:
			absent++
		case !owned[lp]:
			return false
		}
	}
	l.reached[name] = true
	for _, p := range e.Layers {
		l.reached[memberName(p)] = true
	}
	id := name
	if d := blob.FromPath(name); d != "" {
		id = d.String()
	}
	l.record(integrity.Problem{Blob: id, Kind: integrity.Absent, Reason: integrity.ListedNotCarried,
		Detail: fmt.Sprintf("manifest.json names config %s and %d layer(s), %d of them absent: not exported", name, len(e.Layers), absent)})
	return true
}

// legacy describes an image from a manifest.json entry. No manifest exists:
// ManifestDigest stays empty and ConfigDigest is the sha256 of the config
// as stored, which must match the digest its name claims.
//
// Layer digests: docker save stores each layer as an uncompressed
// "<id>/layer.tar" whose name is no digest, and hashing it would mean
// reading every layer here. Layer.Digest is left empty and Layer.Blob set;
// the scan fills the digest while it streams the layer. Only when the
// member name is itself a blob path (a Docker 25 save read through its
// manifest.json) is the digest that name claims set, for the scan to check.
func (l *loader) legacy(e dockerEntry, names []string) {
	l.legacyClaimed(e, names, claimedDigest(memberName(e.Config)))
}

// legacyClaimed loads entry e, whose config's name claims digest claimed
// ("" when it claims none).
func (l *loader) legacyClaimed(e dockerEntry, names []string, claimed digest.Digest) {
	cfgName := memberName(e.Config)
	if img, ok := l.byConfig[cfgName]; ok {
		img.Names = append(img.Names, names...)
		return
	}
	img := &Image{Names: append([]string(nil), names...)}
	l.byConfig[cfgName] = img
	l.images = append(l.images, img)
	l.reached[cfgName] = true

	if claimed == "" {
		img.ConfigBlob = cfgName
	}
	var cfg configFile
	haveConfig := false
	if data, ok := l.readVerified(cfgName, claimed, -1, cfgName, "config"); ok {
		alg := digest.SHA256
		if claimed != "" {
			alg = claimed.Algorithm()
		}
		img.ConfigDigest = alg.FromBytes(data)
		if err := json.Unmarshal(data, &cfg); err != nil {
			l.problem(cfgName, integrity.BadJSON, "config: %v", err)
		} else {
			haveConfig = true
			cfg.apply(img)
		}
	} else if claimed != "" {
		// Unreadable: keep the digest the name claims, so the image can
		// still be named.
		img.ConfigDigest = claimed
	}
	diffIDs := cfg.diffIDs()
	for i, p := range e.Layers {
		img.Layers = append(img.Layers, l.legacyLayer(i, memberName(p), e, diffIDs))
	}
	if !haveConfig {
		return
	}
	l.applyDiffIDs(img, &cfg, cfgName)
	createdBy := cfg.createdBy()
	for i, layer := range img.Layers {
		switch {
		case len(cfg.History) > 0:
			if i < len(createdBy) {
				layer.CreatedBy = createdBy[i]
			}
		default:
			layer.CreatedBy = l.v1CreatedBy(e.Layers[i])
		}
	}
}

func (l *loader) legacyLayer(i int, name string, e dockerEntry, diffIDs []string) *Layer {
	layer := &Layer{Index: i, MediaType: legacyLayerMediaType, Digest: claimedLayerDigest(name)}
	l.reached[name] = true
	if m, ok := l.src.Stat(name); ok {
		layer.Blob = name
		layer.Size = m.Size
	} else {
		layer.Absent = true
	}
	if i < len(diffIDs) {
		if src, ok := e.LayerSources[diffIDs[i]]; ok {
			layer.Foreign = isForeign(src.MediaType)
			if layer.Absent {
				// The blob docker would fetch: describe it as the
				// source does.
				layer.Digest, layer.MediaType, layer.Size = src.Digest, src.MediaType, src.Size
			}
		}
	}
	what := fmt.Sprintf("layer %d", i)
	switch {
	case !layer.Absent:
	case layer.Foreign:
		l.record(integrity.Problem{Blob: name, Kind: integrity.Absent, Reason: integrity.NonDistributable, Size: layer.Size,
			Detail: fmt.Sprintf("%s: non-distributable (%s), not in the archive", what, layer.MediaType)})
	default:
		l.problem(name, integrity.MissingBlob, "%s: %s is not in the archive", what, name)
	}
	return layer
}

// v1CreatedBy reads a legacy layer's <id>/json for the command that made
// it, used when the config has no history.
func (l *loader) v1CreatedBy(layerPath string) string {
	dir, base := path.Split(memberName(layerPath))
	if base != "layer.tar" || dir == "" {
		return ""
	}
	name := dir + "json"
	if _, ok := l.src.Stat(name); !ok {
		return ""
	}
	data, ok := l.readVerified(name, "", -1, name, "v1 layer config")
	if !ok {
		return ""
	}
	var v v1Config
	if err := json.Unmarshal(data, &v); err != nil {
		l.problem(name, integrity.BadJSON, "v1 layer config: %v", err)
		return ""
	}
	return v.createdBy()
}

// claimedDigest is the digest a config's member name claims:
// "<hex>.json" for docker save, "blobs/<alg>/<hex>" for Docker 25+.
func claimedDigest(name string) digest.Digest {
	if d := blob.FromPath(name); d != "" {
		return d
	}
	base := path.Base(name)
	if strings.HasSuffix(base, ".json") && isHex64(strings.TrimSuffix(base, ".json")) {
		return digest.NewDigestFromEncoded(digest.SHA256, strings.TrimSuffix(base, ".json"))
	}
	// go-containerregistry's tarball.Write names the config by its digest
	// string, "sha256:<hex>" (pkg/v1/tarball/write.go: cfgName.String()).
	if alg, hex, ok := strings.Cut(base, ":"); ok && alg == "sha256" && isHex64(hex) {
		return digest.NewDigestFromEncoded(digest.SHA256, hex)
	}
	return ""
}

// claimedLayerDigest is the digest a layer file's name claims, for the
// scan to check: "blobs/<alg>/<hex>" (Docker 25+), and the names that add
// an extension whatever the compression, "<hex>.tar.gz" (go-containerregistry,
// Jib), "blobs/sha256/<hex>.tar.gz" (rules_oci), "<hex>.tar" (skopeo); not
// "<id>/layer.tar", whose id is no digest.
func claimedLayerDigest(name string) digest.Digest {
	if d := blob.FromPath(name); d != "" {
		return d
	}
	dir, base := path.Split(name)
	if dir != "" && dir != "blobs/sha256/" {
		return ""
	}
	for _, ext := range []string{".tar.gz", ".tar.zst", ".tar.zstd", ".tgz", ".tar", ".gz", ".zst"} {
		if hex, ok := strings.CutSuffix(base, ext); ok && isHex64(hex) {
			return digest.NewDigestFromEncoded(digest.SHA256, hex)
		}
	}
	return ""
}

// memberName cleans a path from manifest.json as the archive cleans member
// names, so "./abc/layer.tar" and "abc/layer.tar" are one member.
func memberName(p string) string {
	p = path.Clean("/" + strings.ReplaceAll(p, "\\", "/"))
	return strings.TrimPrefix(p, "/")
}
