package detect

import (
	"fmt"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/pkgdb"
	"github.com/strata-forensics/strata/forensics/rules"
	"github.com/strata-forensics/strata/forensics/tree"
)

// ImageInput is one image with its merged tree and its layers' results.
type ImageInput struct {
	Image  *image.Image
	Tree   *tree.Tree
	Layers []*LayerResult // Layers[i] is layer i; nil when it was not read
	// Digests[i] is layer i's digest as read (a legacy docker save's
	// layer has none until then); when it is missing or empty, the
	// image's own.
	Digests []digest.Digest
	// Anomalies[i] is what the walk of layer i noticed (layer.Summary):
	// odd entries no ordinary build writes, reported as findings.
	Anomalies [][]layer.Anomaly
}

// ImageResult is what the engine makes of one image.
type ImageResult struct {
	Findings []finding.Finding // sorted
	// Unread are degraded notes, one for each nested archive left partly
	// unread by a bound ordinary images reach too (unreadNotes): what
	// such an archive holds is unknown, but carrying a big archive does
	// not make an image suspicious, so it is no finding.
	Unread []integrity.Problem
}

// Image turns an image's layer results into its findings: it names the
// image and layer of each, says whether the matched bytes are what a
// container sees, evaluates package rules against the database state after
// each layer, applies context severity, adds findings for known-affected
// image digests, and sorts. Nested archives left partly unread by an
// ordinary bound come back as notes (ImageResult.Unread), not findings.
func (e *Engine) Image(in ImageInput) ImageResult {
	ref := ""
	if in.Image != nil {
		ref = in.Image.Ref()
	}
	var out []finding.Finding
	out = append(out, e.imageFindings(in, ref)...)
	for i, lr := range in.Layers {
		if lr == nil {
			continue
		}
		for _, f := range lr.Findings {
			f.Image, f.Layer, f.LayerDigest = ref, i, layerDigest(in, i)
			if f.Drift != "" {
				f.Present, f.Message = driftPresence(in, f, i)
			} else {
				f.Present = presentAs(in.Tree, f.Path, f.SHA256)
			}
			out = append(out, f)
		}
	}
	dbs := e.dbStates(in)
	out = append(out, e.packageFindings(in, ref, dbs)...)
	e.applyContext(in, out, dbs)
	out = append(out, anomalyFindings(in, ref)...)
	finding.Sort(out)
	var res ImageResult
	res.Findings, res.Unread = unreadNotes(out)
	return res
}

func layerDigest(in ImageInput, i int) string {
	if i >= 0 && i < len(in.Digests) && in.Digests[i] != "" {
		return in.Digests[i].String()
	}
	if in.Image == nil || i < 0 || i >= len(in.Image.Layers) || in.Image.Layers[i] == nil {
		return ""
	}
	return in.Image.Layers[i].Digest.String()
}

// presentAs reports whether p is in the final filesystem with these bytes.
func presentAs(t *tree.Tree, p, sha string) bool {
	if t == nil || sha == "" {
		return false
	}
	n := t.Node(p)
	if n == nil {
		return false
	}
	fin := n.Final()
	return fin != nil && fin.SHA256 == sha
}

// driftPresence says whether the bytes of drift finding f, found in layer
// i's folder on the host but in no layer's tar, are what a container of
// the image sees: they are unless a later layer puts something over the
// path (tree.Above). It returns f's message with that said.
func driftPresence(in ImageInput, f finding.Finding, i int) (bool, string) {
	verb := "planted in"
	if f.Drift == "changed" {
		verb = "changed in"
	}
	msg := f.Message + fmt.Sprintf("; %s layer %d's folder on the host after the pull, so the layer's digest does not cover these bytes", verb, i)
	if in.Tree == nil {
		return false, msg + "; whether a later layer hides them is unknown"
	}
	above := in.Tree.Above(f.Path, i)
	if above < 0 {
		return true, msg + "; every container on the layer sees them"
	}
	if in.Image != nil && above < len(in.Image.Layers) && in.Image.Layers[above] != nil && in.Image.Layers[above].Writable {
		return false, msg + "; the container's writable layer covers the path, so this container does not see them (other containers on the layer may)"
	}
	return false, msg + fmt.Sprintf("; layer %d of this image covers the path, so its containers do not see them (containers of other images on the layer may)", above)
}

func (e *Engine) imageFindings(in ImageInput, ref string) []finding.Finding {
	if in.Image == nil {
		return nil
	}
	digests := map[string]string{} // digest -> what it is
	if d := in.Image.ManifestDigest; d != "" {
		digests[d.String()] = "manifest"
	}
	for _, d := range in.Image.IndexDigests {
		digests[d.String()] = "index"
	}
	var out []finding.Finding
	for _, r := range e.imageRules {
		for _, md := range r.Image.ManifestDigests {
			what, ok := digests[md.Digest]
			if !ok {
				continue
			}
			out = append(out, finding.Finding{
				Rule: r.ID, Kind: finding.Image, Severity: r.Severity, Image: ref, Layer: -1, Present: true,
				Evidence: fmt.Sprintf("%s digest %s is the published %s", what, md.Digest, md.Tag),
				Message:  fmt.Sprintf("%s: this is %s, reported as affected before any layer was read", r.Title, md.Tag),
			})
		}
	}
	return out
}

// dbState is one package database, or one store folder, as it stands after
// each layer.
type dbState struct {
	path string
	eco  pkgdb.Ecosystem
	// folder: path is a store folder (a keg, a Nix store path, a
	// /var/db/pkg entry), from[n] the layer that installed it.
	folder bool
	// at[n] lists the packages after layer n (nil when the file is absent),
	// from[n] the layer whose blob holds that version of the file.
	at   [][]pkgdb.Package
	from []int
	sha  []string
}

func (e *Engine) dbStates(in ImageInput) []*dbState {
	paths := map[string]bool{}
	for _, lr := range in.Layers {
		if lr == nil {
			continue
		}
		for p := range lr.Packages {
			paths[p] = true
		}
	}
	// Store folders a layer filled with nothing but links or folders.
	for _, p := range storeFolders(in.Tree) {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	var out []*dbState
	for _, p := range sorted {
		if pkg, root, ok := pkgdb.Store(p); ok && root == p {
			out = append(out, folderState(in, p, pkg))
			continue
		}
		eco, _ := pkgdb.Match(p)
		st := &dbState{path: p, eco: eco, at: make([][]pkgdb.Package, len(in.Layers)), from: make([]int, len(in.Layers)), sha: make([]string, len(in.Layers))}
		var node *tree.Node
		if in.Tree != nil {
			node = in.Tree.Node(p)
		}
		for n := range in.Layers {
			st.from[n] = -1
			if node == nil {
				// Without a tree, a layer's own copy stands until the next.
				for k := n; k >= 0; k-- {
					if in.Layers[k] != nil {
						if pk, ok := in.Layers[k].Packages[p]; ok {
							st.at[n], st.from[n] = installed(pk), k
							break
						}
					}
				}
				continue
			}
			ent, from, ok := node.At(n)
			if !ok || from < 0 || from >= len(in.Layers) || in.Layers[from] == nil {
				continue
			}
			st.at[n], st.from[n] = installed(in.Layers[from].Packages[p]), from
			if ent != nil {
				st.sha[n] = ent.SHA256
			}
			// A layer above the file's that lists its packages read it
			// with the write-ahead log that layer wrote (the scan's
			// UnreadWAL): its list is the database as of that layer.
			for k := n; k > from; k-- {
				if in.Layers[k] == nil {
					continue
				}
				if pk, ok := in.Layers[k].Packages[p]; ok {
					st.at[n], st.from[n] = installed(pk), k
					break
				}
			}
		}
		out = append(out, st)
	}
	return out
}

// installed drops dpkg records of removed packages ("deinstall ok
// config-files" and the like): their files are gone.
func installed(pkgs []pkgdb.Package) []pkgdb.Package {
	var out []pkgdb.Package
	for _, p := range pkgs {
		if p.Ecosystem == pkgdb.Dpkg && p.Status != "" && !strings.HasSuffix(p.Status, " installed") {
			continue
		}
		out = append(out, p)
	}
	return out
}

func (e *Engine) affected(r *rules.Rule, p pkgdb.Package) bool {
	if string(p.Ecosystem) != r.Package.Ecosystem {
		return false
	}
	named := false
	for _, n := range r.Package.Names {
		named = named || n == p.Name
	}
	if !named {
		return false
	}
	for _, rg := range r.Package.Ranges {
		if ok, err := pkgdb.Range(rg).Contains(p.Ecosystem, p.Version); err == nil && ok {
			return true
		}
	}
	return false
}

// packageFindings reports each affected package once per database or store
// folder, at the layer that first listed it at that version (for a store
// folder, the layer that installed it). A Nix database row whose store path
// is itself in the image is left to that store path's finding.
func (e *Engine) packageFindings(in ImageInput, ref string, dbs []*dbState) []finding.Finding {
	var out []finding.Finding
	last := len(in.Layers) - 1
	folders := map[string]bool{}
	for _, db := range dbs {
		if db.folder {
			folders[db.path] = true
		}
	}
	for _, db := range dbs {
		seen := map[string]bool{}
		for n := range in.Layers {
			for _, p := range db.at[n] {
				if !db.folder && p.Path != "" && folders[p.Path] {
					continue
				}
				for _, r := range e.pkgRules {
					key := r.ID + "\x00" + p.Name + "\x00" + p.Version
					if seen[key] || !e.affected(r, p) {
						continue
					}
					seen[key] = true
					layerIdx := db.from[n]
					present := false
					if last >= 0 {
						for _, q := range db.at[last] {
							present = present || q.Name == p.Name && q.Version == p.Version
						}
					}
					evidence, message := fmt.Sprintf("%s lists %s %s", db.path, p.Name, p.Version), fmt.Sprintf("%s: %s %s is an affected version", r.Title, p.Name, p.Version)
					switch {
					case db.folder:
						evidence = fmt.Sprintf("%s is the %s folder of %s %s", db.path, p.Ecosystem, p.Name, p.Version)
						if p.Status != "" {
							evidence += " (" + p.Status + ")"
						}
						message += fmt.Sprintf(", installed by layer %d", layerIdx)
					case p.Path != "":
						evidence += " (" + p.Path + ")"
						message += "; the database lists its store path " + p.Path + ", which is in no layer that was read"
					}
					out = append(out, finding.Finding{
						Rule: r.ID, Kind: finding.Package, Severity: r.Severity, Image: ref,
						Layer: layerIdx, LayerDigest: layerDigest(in, layerIdx), Path: db.path, SHA256: db.sha[n], Present: present,
						Package:  &finding.Pkg{Name: p.Name, Version: p.Version, Ecosystem: string(p.Ecosystem)},
						Evidence: evidence,
						Message:  message,
					})
				}
			}
		}
	}
	return out
}

// sshdContext says whether the final filesystem has an sshd that loads
// liblzma on x86-64 glibc, and why in words either way.
func sshdContext(in ImageInput, dbs []*dbState) (bool, string) {
	var pkgNote string
	for _, db := range dbs {
		if n := len(db.at); n > 0 {
			for _, p := range db.at[n-1] {
				if p.Name == "openssh-server" {
					pkgNote = fmt.Sprintf("openssh-server %s is listed in %s", p.Version, db.path)
				}
			}
		}
	}
	var node *tree.Node
	if in.Tree != nil {
		node = in.Tree.Node(sshdPath)
	}
	if node == nil || node.Final() == nil {
		if pkgNote != "" {
			return false, pkgNote + " but " + sshdPath + " is not in the final filesystem"
		}
		return false, "no " + sshdPath + " in the final filesystem and no openssh-server package"
	}
	_, from, ok := node.At(len(in.Layers) - 1)
	if !ok || from < 0 || from >= len(in.Layers) || in.Layers[from] == nil {
		return false, sshdPath + " is present but its layer was not read"
	}
	facts := in.Layers[from].Facts
	needed, ok := facts[factNeeded+sshdPath]
	if !ok {
		return false, sshdPath + " is present but its ELF dynamic section could not be read"
	}
	var via string
	for _, lib := range needed {
		if strings.HasPrefix(lib, "libsystemd.so") || strings.HasPrefix(lib, "liblzma.so") {
			via = lib
			break
		}
	}
	if via == "" {
		return false, fmt.Sprintf("%s (layer %d) links neither libsystemd nor liblzma (DT_NEEDED: %s)", sshdPath, from, strings.Join(needed, ", "))
	}
	interp := strings.Join(facts[factInterp+sshdPath], "")
	if !strings.Contains(interp, "ld-linux-x86-64.so") {
		return false, fmt.Sprintf("%s (layer %d) loads %s but its loader %q is not x86-64 glibc's", sshdPath, from, via, interp)
	}
	return true, fmt.Sprintf("%s (layer %d) loads liblzma through %s with the x86-64 glibc loader %s", sshdPath, from, via, interp)
}

// applyContext sets severities that depend on the whole image and says why.
func (e *Engine) applyContext(in ImageInput, fs []finding.Finding, dbs []*dbState) {
	var binary *finding.Finding
	for i := range fs {
		f := &fs[i]
		if r := e.rs.Rule(f.Rule); r != nil && r.Context == rules.ContextLiblzma {
			if binary == nil || !binary.Present && f.Present {
				binary = f
			}
		}
	}
	sshdOK, sshdWhy := false, ""
	if binary != nil {
		sshdOK, sshdWhy = sshdContext(in, dbs)
	}
	for i := range fs {
		f := &fs[i]
		r := e.rs.Rule(f.Rule)
		if r == nil {
			continue
		}
		switch {
		case f.Kind == finding.Package:
			if binary != nil {
				if f.Severity < finding.Medium {
					f.Severity = finding.Medium
				}
				f.Message += fmt.Sprintf("; a backdoored liblzma was also found in this image (%s, layer %d)", binary.Path, binary.Layer)
			} else {
				// What the version alone means is the rule's to say (the
				// built-in rules: which builds received the payload).
				f.Message += "; no backdoored liblzma binary was found in this image"
				if r.Package != nil && r.Package.Note != "" {
					f.Message += ": " + r.Package.Note
				}
			}
			if !f.Present {
				f.Message += "; a later layer removed or changed it"
			}
		case r.Context != rules.ContextLiblzma:
			if !f.Present && f.Layer >= 0 && f.Drift == "" {
				f.Message += "; deleted or replaced by a later layer, but the bytes still ship in this layer's blob"
			}
		case f.Kind == finding.Nested:
			f.Message += "; it lies inside a package or archive, not installed, so nothing loads it"
		case !f.Present && f.Drift != "":
			// driftPresence said which layer hides it; its bytes ship
			// in no blob.
		case !f.Present:
			f.Message += "; deleted or replaced by a later layer, so a container does not load it, but the bytes still ship in this layer's blob"
		case sshdOK:
			f.Severity = finding.Critical
			f.Message += "; critical: " + sshdWhy
		default:
			f.Message += "; not critical: " + sshdWhy
		}
	}
}
