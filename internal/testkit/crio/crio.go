// Package crio writes, for tests, the containers/storage graph root CRI-O
// leaves on a Kubernetes node's disk, which no CRI-O can write here (it
// serves a kubelet). It is shaped after the source of CRI-O 1.26 and
// later, with containers/storage 1.45 and later:
//
//   - images as containers/image commits them (storage/storage_dest.go):
//     overlay-images/images.json, the config as the big data item named
//     after its digest (which is the image ID), the manifest under
//     "manifest-<digest>" and "manifest"; names as pulled (a digested
//     reference for an image pulled by digest) or none (an image loaded
//     with no name, or whose name moved to another);
//   - their layers in overlay-layers/layers.json, named by the formula
//     storage_dest.go uses (the base's diff_id, then sha256(parent + "+" +
//     diff_id)), each with its tar-split (layers.go, <id>.tar-split.gz)
//     and its folder overlay/<id>/{diff,link,work,merged} with its short
//     link in overlay/l (drivers/overlay/overlay.go create);
//   - pod sandboxes (the infra container, of the pause image) and their
//     containers as CRI-O creates them (internal/storage/runtime.go
//     createContainerOrPodSandbox): volatile, so their records go to
//     overlay-containers/volatile-containers.json and their writable
//     layers' to overlay-layers/volatile-layers.json (containers/storage
//     containers.go, layers.go, store.go CreateContainer), with CRI-O's
//     RuntimeContainerMetadata as their metadata, the names CRI-O gives
//     them (server/naming.go, internal/factory/container/container.go
//     SetNameAndID) and the OCI runtime spec CRI-O saves as
//     overlay-containers/<id>/userdata/config.json
//     (server/container_create.go, server/sandbox_run_linux.go).
//
// No containers.json is written: containers/storage writes each of its
// two files only for the containers kept in it.
package crio

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// Store is a graph root being written.
type Store struct {
	Root string

	images     []*Image
	layers     []layerRecord // layers.json
	volatile   []layerRecord // volatile-layers.json
	containers []*Container
	n          int // IDs made so far
}

// Image is an image of the store.
type Image struct {
	ID       string // its config's digest, hex
	Manifest digest.Digest
	TopLayer string
	// Names are the names images.json records: set them before Save.
	Names   []string
	Created time.Time
	bigData map[string][]byte
}

// Container is a container (or a pod's infra container) of the store.
type Container struct {
	ID    string
	Names []string
	Image *Image
	// Layer is the ID of its writable layer, whose folder is Diff.
	Layer    string
	Metadata RuntimeContainerMetadata
	Created  time.Time
	Args     []string
}

// RuntimeContainerMetadata is what CRI-O stores as a container's metadata
// in containers/storage, as JSON (internal/storage/runtime.go).
type RuntimeContainerMetadata struct {
	PodName       string `json:"pod-name"`
	PodID         string `json:"pod-id"`
	ImageName     string `json:"image-name"`
	ImageID       string `json:"image-id"`
	ContainerName string `json:"name"`
	MetadataName  string `json:"metadata-name"`
	UID           string `json:"uid,omitempty"`
	Namespace     string `json:"namespace,omitempty"`
	MountLabel    string `json:"mountlabel,omitempty"`
	CreatedAt     int64  `json:"created-at"`
	Attempt       uint32 `json:"attempt,omitempty"`
	Pod           bool   `json:"pod,omitempty"`
	Privileged    bool   `json:"privileged,omitempty"`
}

// Pod is a pod sandbox: its infra container, and what names it.
type Pod struct {
	Name, Namespace, UID string
	Attempt              uint32
	Infra                *Container
}

// sandboxName is CRI-O's name of a pod sandbox (internal/lib/sandbox
// builder.go SetNameAndID): k8s_<pod>_<namespace>_<uid>_<attempt>.
func (p *Pod) sandboxName() string {
	return strings.Join([]string{"k8s", p.Name, p.Namespace, p.UID, strconv.FormatUint(uint64(p.Attempt), 10)}, "_")
}

// New starts a graph root at root (made if need be).
func New(t testing.TB, root string) *Store {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a CRI-O store's files are root's, as their layers' headers say: the test needs root")
	}
	for _, d := range []string{"overlay-images", "overlay-layers", "overlay-containers", "overlay/l"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "overlay/l"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &Store{Root: root}
}

// id makes a random-looking ID, as stringid.GenerateNonCryptoID does, but
// the same on every run.
func (s *Store) id(what string) string {
	s.n++
	return digest.FromString(fmt.Sprintf("%s %d", what, s.n)).Encoded()
}

// AddImage commits an image of the config and uncompressed layer tars
// given, created at created, as containers/image does: its layers
// unpacked into their folders with their tar-splits, its config and a
// manifest of it as big data items. It has no name until Names is set.
func (s *Store) AddImage(t testing.TB, config []byte, layers [][]byte, created time.Time) *Image {
	t.Helper()
	parent := ""
	var descs []map[string]any
	for _, l := range layers {
		diffID := digest.FromBytes(l)
		id := diffID.Encoded()
		if parent != "" {
			id = digest.FromString(parent + "+" + diffID.Encoded()).Encoded()
		}
		s.layerFolder(t, id, parent)
		if err := untar(l, filepath.Join(s.Root, "overlay", id, "diff")); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(s.Root, "overlay-layers", id+".tar-split.gz"), tarSplit(t, l), 0o600)
		rec := layerRecord{ID: id, Parent: parent, Created: created,
			CompressedDiffDigest: diffID, CompressedSize: int64(len(l)), DiffDigest: diffID, DiffSize: int64(len(l)),
			UIDSet: []int{0}, GIDSet: []int{0}}
		s.layers = append(s.layers, rec)
		descs = append(descs, map[string]any{"mediaType": "application/vnd.docker.image.rootfs.diff.tar", "size": len(l), "digest": diffID})
		parent = id
	}
	cfg := digest.FromBytes(config)
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.docker.distribution.manifest.v2+json",
		"config":        map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config), "digest": cfg},
		"layers":        descs,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := digest.FromBytes(manifest)
	img := &Image{ID: cfg.Encoded(), Manifest: m, TopLayer: parent, Created: created, bigData: map[string][]byte{
		cfg.String():             config,
		"manifest-" + m.String(): manifest,
		"manifest":               manifest,
	}}
	s.images = append(s.images, img)
	return img
}

// AddPod creates pod sandbox name of namespace (its infra container, of
// the pause image, named as pauseName asks for it), as CRI-O's RunPodSandbox
// does: the infra container's ID is the pod's, its names CRI-O's container
// name and the sandbox's (server/naming.go makeSandboxContainerName), its
// command the pause image's /pause (internal/lib/sandbox/infra.go).
func (s *Store) AddPod(t testing.TB, name, namespace, uid string, pause *Image, pauseName string, created time.Time) *Pod {
	t.Helper()
	p := &Pod{Name: name, Namespace: namespace, UID: uid}
	id := s.id("pod")
	ctrName := strings.Join([]string{"k8s", "POD", name, namespace, uid, "0"}, "_")
	p.Infra = s.container(t, id, []string{ctrName, p.sandboxName()}, pause, RuntimeContainerMetadata{
		PodName: p.sandboxName(), PodID: id, ImageName: pauseName, ImageID: pause.ID,
		ContainerName: ctrName, MetadataName: name, UID: uid, Namespace: namespace,
		CreatedAt: created.Unix(), Pod: true,
	}, created, []string{"/pause"}, map[string]string{
		"io.kubernetes.cri-o.ContainerType": "sandbox",
		"io.kubernetes.cri-o.KubeName":      name,
		"io.kubernetes.cri-o.Namespace":     namespace,
	})
	return p
}

// AddContainer creates container name in pod p, of image img (named as
// imageName asks for it: a reference, or the image's ID), running args,
// as CRI-O's CreateContainer does: named
// k8s_<name>_<pod>_<namespace>_<uid>_<attempt>, its metadata naming the
// pod by its sandbox's name and ID alone (no namespace nor uid: those are
// a pod's only).
func (s *Store) AddContainer(t testing.TB, p *Pod, name string, img *Image, imageName string, args []string, created time.Time) *Container {
	t.Helper()
	ctrName := strings.Join([]string{"k8s", name, p.Name, p.Namespace, p.UID, "0"}, "_")
	return s.container(t, s.id("container"), []string{ctrName}, img, RuntimeContainerMetadata{
		PodName: p.sandboxName(), PodID: p.Infra.ID, ImageName: imageName, ImageID: img.ID,
		ContainerName: ctrName, MetadataName: name, CreatedAt: created.Unix(),
	}, created, args, map[string]string{
		"io.kubernetes.cri-o.ContainerType": "container",
		"io.kubernetes.cri-o.SandboxID":     p.Infra.ID,
		"io.kubernetes.cri-o.SandboxName":   p.sandboxName(),
	})
}

func (s *Store) container(t testing.TB, id string, names []string, img *Image, md RuntimeContainerMetadata, created time.Time, args []string, annotations map[string]string) *Container {
	t.Helper()
	layer := s.id("layer")
	s.layerFolder(t, layer, img.TopLayer)
	// store.go CreateContainer: a volatile container's layer is volatile;
	// runtime.go names it after the container.
	s.volatile = append(s.volatile, layerRecord{ID: layer, Names: []string{names[0] + "-layer"}, Parent: img.TopLayer, Created: created})
	c := &Container{ID: id, Names: names, Image: img, Layer: layer, Metadata: md, Created: created, Args: args}
	s.containers = append(s.containers, c)
	annotations["io.kubernetes.cri-o.Name"] = names[0]
	annotations["io.kubernetes.cri-o.ContainerID"] = id
	annotations["io.kubernetes.cri-o.Created"] = created.Format(time.RFC3339Nano)
	annotations["io.kubernetes.cri-o.ImageName"] = md.ImageName
	annotations["io.container.manager"] = "cri-o"
	spec, err := json.Marshal(map[string]any{
		"ociVersion":  "1.0.2-dev",
		"process":     map[string]any{"user": map[string]int{"uid": 0, "gid": 0}, "args": args, "env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, "cwd": "/"},
		"root":        map[string]any{"path": path.Join("/var/lib/containers/storage/overlay", layer, "merged")},
		"hostname":    md.PodName,
		"annotations": annotations,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.Root, "overlay-containers", id, "userdata")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "config.json"), spec, 0o644)
	return c
}

// Diff is the folder of container c's writable layer (its overlay upper).
func (s *Store) Diff(c *Container) string { return filepath.Join(s.Root, "overlay", c.Layer, "diff") }

// WriteFile writes the file p into container c's writable layer, as a
// process of the container writing it would leave it: its folders copied
// up (root's, mode 0755).
func (s *Store) WriteFile(t testing.TB, c *Container, p string, data []byte, mode os.FileMode) {
	t.Helper()
	name := filepath.Join(s.Diff(c), filepath.FromSlash(path.Clean("/"+p)))
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, name, data, mode)
}

// layerRecord is a layer of layers.json (containers/storage layers.go).
type layerRecord struct {
	ID                   string        `json:"id"`
	Names                []string      `json:"names,omitempty"`
	Parent               string        `json:"parent,omitempty"`
	Created              time.Time     `json:"created"`
	CompressedDiffDigest digest.Digest `json:"compressed-diff-digest,omitempty"`
	CompressedSize       int64         `json:"compressed-size,omitempty"`
	DiffDigest           digest.Digest `json:"diff-digest,omitempty"`
	DiffSize             int64         `json:"diff-size,omitempty"`
	UIDSet               []int         `json:"uidset,omitempty"`
	GIDSet               []int         `json:"gidset,omitempty"`
}

// Save writes the store's records: images.json, layers.json,
// volatile-layers.json and volatile-containers.json.
func (s *Store) Save(t testing.TB) {
	t.Helper()
	type imageRecord struct {
		ID             string                   `json:"id"`
		Digest         digest.Digest            `json:"digest"`
		Names          []string                 `json:"names,omitempty"`
		NamesHistory   []string                 `json:"names-history,omitempty"`
		Layer          string                   `json:"layer"`
		Metadata       string                   `json:"metadata"`
		BigDataNames   []string                 `json:"big-data-names"`
		BigDataSizes   map[string]int64         `json:"big-data-sizes"`
		BigDataDigests map[string]digest.Digest `json:"big-data-digests"`
		Created        time.Time                `json:"created"`
	}
	var imgs []imageRecord
	for _, im := range s.images {
		rec := imageRecord{ID: im.ID, Digest: im.Manifest, Names: im.Names, NamesHistory: im.Names, Layer: im.TopLayer,
			Metadata:     fmt.Sprintf(`{"signatures-sizes":{%q:[]}}`, im.Manifest),
			BigDataSizes: map[string]int64{}, BigDataDigests: map[string]digest.Digest{}, Created: im.Created}
		for _, k := range []string{"sha256:" + im.ID, "manifest-" + im.Manifest.String(), "manifest"} {
			data := im.bigData[k]
			rec.BigDataNames = append(rec.BigDataNames, k)
			rec.BigDataSizes[k] = int64(len(data))
			rec.BigDataDigests[k] = digest.FromBytes(data)
			dir := filepath.Join(s.Root, "overlay-images", im.ID)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(dir, bigDataName(k)), data, 0o600)
		}
		imgs = append(imgs, rec)
	}
	type containerRecord struct {
		ID             string                   `json:"id"`
		Names          []string                 `json:"names,omitempty"`
		Image          string                   `json:"image"`
		Layer          string                   `json:"layer"`
		Metadata       string                   `json:"metadata,omitempty"`
		BigDataNames   []string                 `json:"big-data-names,omitempty"`
		BigDataSizes   map[string]int64         `json:"big-data-sizes,omitempty"`
		BigDataDigests map[string]digest.Digest `json:"big-data-digests,omitempty"`
		Created        time.Time                `json:"created,omitempty"`
		Flags          map[string]any           `json:"flags,omitempty"`
	}
	var ctrs []containerRecord
	for _, c := range s.containers {
		md, err := json.Marshal(c.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		ctrs = append(ctrs, containerRecord{ID: c.ID, Names: c.Names, Image: c.Image.ID, Layer: c.Layer, Metadata: string(md),
			Created: c.Created.UTC(), Flags: map[string]any{"MountLabel": "", "ProcessLabel": "", "Volatile": true}})
	}
	for name, v := range map[string]any{
		"overlay-images/images.json":                  imgs,
		"overlay-layers/layers.json":                  s.layers,
		"overlay-layers/volatile-layers.json":         s.volatile,
		"overlay-containers/volatile-containers.json": ctrs,
	} {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(s.Root, filepath.FromSlash(name)), data, 0o600)
	}
}

// bigDataName is the file an image's big data item is kept in
// (containers/storage store.go makeBigDataBaseName).
func bigDataName(key string) string {
	for _, c := range key {
		if c != '.' && !('0' <= c && c <= '9') && !('a' <= c && c <= 'z') {
			return "=" + base64.StdEncoding.EncodeToString([]byte(key))
		}
	}
	return key
}
