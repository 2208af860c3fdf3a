package containerd

import (
	"context"
	"encoding/json"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/strata-forensics/strata/forensics/engine"
	"github.com/strata-forensics/strata/forensics/engine/docker"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// containers adds each container of each namespace as its image with its
// writable layer, the active snapshot named by its snapshot key.
func (s *Store) containers(ctx context.Context, claimed map[string]bool) {
	for _, ns := range s.meta.namespaces {
		known := map[string]bool{}
		for _, c := range ns.containers {
			if ctx.Err() != nil {
				return
			}
			known[c.snapshotKey] = true
			ctr := &image.Container{ID: c.id, Name: displayName(c.id, c.labels), Image: c.image,
				Command: command(c.spec), Engine: "containerd (" + ns.name + ")"}
			if !c.created.IsZero() {
				created := c.created
				ctr.Created = &created
			}
			s.container(ctx, ns, ctr, c.snapshotter, c.snapshotKey, c.image, claimed)
		}
		if ns.name == "moby" {
			s.mobyContainers(ctx, ns, known, claimed)
		}
	}
}

// displayName is the name a container's labels give it: nerdctl's, or
// Kubernetes' pod and container names; else its ID.
func displayName(id string, labels map[string]string) string {
	if n := labels["nerdctl/name"]; n != "" {
		return n
	}
	pod, ctr := labels["io.kubernetes.pod.name"], labels["io.kubernetes.container.name"]
	switch {
	case pod != "" && ctr != "":
		return pod + "/" + ctr
	case pod != "":
		return pod
	}
	return id
}

// container adds container ctr of namespace ns, whose writable layer is
// the snapshot key of snapshotter sn, made from the image named imageName.
func (s *Store) container(ctx context.Context, ns *namespace, ctr *image.Container, sn, key, imageName string, claimed map[string]bool) {
	if sn == "" {
		sn = overlayName // containerd's default, and what an empty record meant
	}
	if sn != overlayName {
		s.problem(s.p(metaDBPath), integrity.Degraded, "container %s (%s): snapshotter %s, not read", ctr.Name, ns.name, sn)
		return
	}
	m := s.imageOf(ns, imageName, key)
	if m == "" {
		s.problem(s.p(metaDBPath), integrity.MissingBlob, "container %s (%s): its image %q is not in the store", ctr.Name, ns.name, imageName)
		return
	}
	dir, _, ok := s.snapshot(ns, key)
	var writable string
	if !ok {
		s.problem(s.p(metaDBPath), integrity.Inconsistent, "container %s (%s): its snapshot %q is in no snapshotter record", ctr.Name, ns.name, key)
		writable = s.p(overlayDir, "snapshots", "(missing)", key)
	} else {
		claimed[dir] = true
		writable = s.upper(ctx, dir, "container "+ctr.Name)
	}
	// The snapshots below it are its image's layers, and for Docker its
	// init layer (<id>-init): the container's, not orphans.
	seen := map[string]bool{}
	for k := ns.snapshots[overlayName][key].parent; k != "" && !seen[k]; k = ns.snapshots[overlayName][k].parent {
		seen[k] = true
		if d, _, ok := s.snapshot(ns, k); ok {
			claimed[d] = true
		}
	}
	s.entries = append(s.entries, image.Entry{Manifest: m, Container: ctr, Writable: writable})
}

// imageOf finds the manifest of the image a container was made from: the
// one of its named image (below an index, the platform unpacked) whose
// top snapshot its snapshot was prepared on, else any image's whose is.
func (s *Store) imageOf(ns *namespace, imageName, key string) digest.Digest {
	parents := map[string]bool{}
	for k, i := ns.snapshots[overlayName][key].parent, 0; k != "" && i < 16 && !parents[k]; i++ {
		parents[k] = true
		k = ns.snapshots[overlayName][k].parent
	}
	top := func(m digest.Digest) bool {
		info := s.manifest[m]
		return info != nil && len(info.chains) > 0 && parents[info.chains[len(info.chains)-1].String()]
	}
	var named []digest.Digest
	for _, im := range ns.images {
		if im.name == imageName {
			named = s.targets[im.target.Digest]
		}
	}
	for _, m := range named {
		if top(m) {
			return m
		}
	}
	ms := make([]digest.Digest, 0, len(s.manifest))
	for m := range s.manifest {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i] < ms[j] })
	for _, m := range ms {
		if top(m) {
			return m
		}
	}
	if len(named) == 1 {
		return named[0]
	}
	return ""
}

// mobyContainers adds Docker 29's containers (namespace moby): dockerd
// keeps a containerd container record only while one runs, so each is
// found by its writable layer, the active snapshot keyed by its ID
// (daemon/containerd/image_snapshot.go), and named by Docker's own
// containers/<id>/config.v2.json where the evidence root holds it.
func (s *Store) mobyContainers(ctx context.Context, ns *namespace, known, claimed map[string]bool) {
	for _, key := range sortedKeys(ns.snapshots[overlayName]) {
		if ctx.Err() != nil {
			return
		}
		if known[key] || !engine.IsHex64(key) {
			continue
		}
		if _, b, ok := s.snapshot(ns, key); !ok || b.kind != kindActive {
			continue
		}
		ctr := &image.Container{ID: key, Engine: "containerd (moby)"}
		imageName := s.dockerConfig(ctr)
		s.container(ctx, ns, ctr, overlayName, key, imageName, claimed)
	}
}

// dockerConfig fills ctr from Docker's config.v2.json, if found below the
// evidence root, and returns the image name it records.
func (s *Store) dockerConfig(ctr *image.Container) string {
	for _, r := range docker.DataRoots(s.custody) {
		name := path.Join(r, "containers", ctr.ID, "config.v2.json")
		data, err := s.custody.ReadFile(name)
		if err != nil {
			continue
		}
		var c struct {
			Name    string
			Created time.Time
			Path    string
			Args    []string
			Config  struct{ Image string }
		}
		if err := json.Unmarshal(data, &c); err != nil {
			s.problem(name, integrity.BadJSON, "container %s: %v", ctr.ID[:12], err)
			return ""
		}
		ctr.Name, ctr.Image, ctr.Engine = strings.TrimPrefix(c.Name, "/"), c.Config.Image, "docker (containerd store)"
		if c.Path != "" {
			ctr.Command = append([]string{c.Path}, c.Args...)
		}
		if !c.Created.IsZero() {
			ctr.Created = &c.Created
		}
		return c.Config.Image
	}
	return ""
}
