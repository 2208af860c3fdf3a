package cstorage

import (
	"cmp"
	"strings"

	"github.com/strata-forensics/strata/forensics/integrity"
)

// CRI-O keeps its images and containers in containers/storage, with no
// database of its own on the disk (its state is in the run root, lost at
// power-off; github.com/cri-o/cri-o). What strata reads of a container is
// the metadata CRI-O stores in containers.json (volatile-containers.json
// since containers/storage 1.45: CRI-O creates every container volatile),
// RuntimeContainerMetadata (internal/storage/runtime.go), and the OCI
// runtime spec it saves as the container's userdata/config.json
// (server/container_create.go, server/sandbox_run_linux.go).
//
// Each pod has an infra container ("pod": true, of the pause image), whose
// ID is the pod's, whose metadata names the pod (metadata-name) and its
// namespace and uid; a container's metadata names its pod only by the
// pod's ID and sandbox name, k8s_<pod>_<namespace>_<uid>_<attempt>
// (internal/lib/sandbox/builder.go). CRI-O names a container
// k8s_<container>_<pod>_<namespace>_<uid>_<attempt>
// (internal/factory/container/container.go) and an infra container
// k8s_POD_<pod>_<namespace>_<uid>_<attempt> (server/naming.go).

// containerMeta is what strata reads of a container's metadata: podman's
// (image-name, image-id, name, created-at) and CRI-O's
// RuntimeContainerMetadata, which adds the pod's.
type containerMeta struct {
	ImageName string `json:"image-name"`
	ImageID   string `json:"image-id"`
	Name      string `json:"name"`
	CreatedAt int64  `json:"created-at"`
	// CRI-O's.
	PodName      string `json:"pod-name"`
	PodID        string `json:"pod-id"`
	MetadataName string `json:"metadata-name"`
	Namespace    string `json:"namespace"`
	Pod          bool   `json:"pod"`
}

// infraName is the name Kubernetes and CRI-O give a pod's infra container
// (internal/oci/oci_linux.go InfraContainerName).
const infraName = "POD"

// isCRIO reports whether CRI-O made the container: its metadata names its
// pod, which CRI-O's requires (runtime.go ErrInvalidPodName).
func (m *containerMeta) isCRIO() bool { return m.PodID != "" && m.PodName != "" }

// kubeName is the container's name as Kubernetes has it,
// namespace/pod/container (the infra container's container being POD):
// the pod's name and namespace from its infra container's metadata, else
// from its sandbox's name, else from the container's. It is "" when
// none says it.
func (m *containerMeta) kubeName(pods map[string]*containerMeta) string {
	ctr := m.MetadataName
	if m.Pod {
		ctr = infraName
	}
	var pod, ns string
	if p := pods[m.PodID]; p != nil && p.MetadataName != "" {
		pod, ns = p.MetadataName, p.Namespace
	} else if f := k8sFields(m.PodName, 5); f != nil {
		pod, ns = f[1], f[2]
	}
	if f := k8sFields(m.Name, 6); f != nil {
		ctr, pod, ns = cmp.Or(ctr, f[1]), cmp.Or(pod, f[2]), cmp.Or(ns, f[3])
	}
	if pod == "" {
		pod = m.PodName
	}
	if ctr == "" || pod == "" {
		return ""
	}
	if ns == "" {
		return pod + "/" + ctr
	}
	return ns + "/" + pod + "/" + ctr
}

// k8sFields splits a name CRI-O made (k8s_ and n-1 fields joined by _; no
// Kubernetes name holds a _), or returns nil.
func k8sFields(name string, n int) []string {
	f := strings.Split(name, "_")
	if len(f) != n || f[0] != "k8s" || strings.Contains(name, "/") {
		return nil
	}
	for _, x := range f {
		if x == "" {
			return nil
		}
	}
	return f
}

// crioCommand is the command of CRI-O's container c: its
// userdata/config.json's process, which CRI-O writes as it creates the
// container (it keeps it nowhere else on the disk). A command that cannot
// be found is said in a note.
func (s *Store) crioCommand(c containerRecord, display string) []string {
	args, found := s.runtimeSpec(c.ID)
	switch {
	case len(args) > 0:
		return args
	case !found:
		s.Problem(c.from, integrity.Degraded, "container %s: its command is unknown: CRI-O keeps it in its %s alone, which is not there", display, runtimeSpec)
	default:
		s.Problem(c.from, integrity.Degraded, "container %s: its command is unknown: its %s names no process", display, runtimeSpec)
	}
	return nil
}
