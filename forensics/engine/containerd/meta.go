package containerd

import (
	"encoding/binary"
	"encoding/json"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/engine/boltdb"
)

// The records strata reads of containerd's meta.db, as containerd's
// core/metadata writes them (buckets.go names the buckets; images.go,
// containers.go and snapshot.go the keys; boltutil/helpers.go the
// encodings: times are time.MarshalBinary, sizes binary.PutVarint):
//
//	v1/<namespace>/images/<name>/target/{digest,mediatype,size}
//	v1/<namespace>/containers/<id>/{image,snapshotter,snapshotKey,spec,createdat,labels/}
//	v1/<namespace>/snapshots/<snapshotter>/<key>/{name,parent,labels/}
//	v1/<namespace>/content/blob/<digest>/{size,labels/}
//
// The schema comment of buckets.go says "image"; the key is "images".

// metaDB is containerd's meta.db, by namespace.
type metaDB struct {
	namespaces []*namespace // sorted by name
}

type namespace struct {
	name       string
	images     []imageRec     // sorted by name
	containers []containerRec // sorted by ID
	// snapshots by snapshotter, then key.
	snapshots map[string]map[string]snapshotRec
}

type imageRec struct {
	name   string
	target ocispec.Descriptor
}

type containerRec struct {
	id, image, snapshotter, snapshotKey string
	created                             time.Time
	labels                              map[string]string
	spec                                []byte // a protobuf Any
}

type snapshotRec struct {
	name   string // the snapshotter's own key: "<ns>/<seq>/<key>"
	parent string // the parent's key in the namespace
}

// parseMetaDB reads the records of meta.db's buckets. A record missing
// what it needs is passed to bad, with what it lacks, and left out.
func parseMetaDB(root *boltdb.Bucket, bad func(what string)) *metaDB {
	v1 := root.Bucket("v1")
	if v1 == nil {
		bad("no v1 bucket")
		return &metaDB{}
	}
	out := &metaDB{}
	for _, ns := range sortedKeys(v1.Buckets()) {
		b := v1.Buckets()[ns]
		n := &namespace{name: ns, snapshots: map[string]map[string]snapshotRec{}}
		images := b.Bucket("images")
		for _, name := range sortedKeys(images.Buckets()) {
			t := images.Bucket(name, "target")
			d := digest.Digest(t.Get("digest"))
			if blob.Validate(d) != nil {
				bad("image " + ns + "/" + name + ": no valid target digest")
				continue
			}
			size, _ := binary.Varint(t.Get("size"))
			n.images = append(n.images, imageRec{name: name, target: ocispec.Descriptor{
				MediaType: string(t.Get("mediatype")), Digest: d, Size: size}})
		}
		containers := b.Bucket("containers")
		for _, id := range sortedKeys(containers.Buckets()) {
			c := containers.Bucket(id)
			rec := containerRec{id: id, image: string(c.Get("image")), snapshotter: string(c.Get("snapshotter")),
				snapshotKey: string(c.Get("snapshotKey")), spec: c.Get("spec"), labels: map[string]string{}}
			if t := c.Get("createdat"); t != nil {
				_ = rec.created.UnmarshalBinary(t) // a time that does not parse is not shown
			}
			if l := c.Bucket("labels"); l != nil {
				for k, v := range l.Values() {
					rec.labels[k] = string(v)
				}
			}
			n.containers = append(n.containers, rec)
		}
		for sn, keys := range b.Bucket("snapshots").Buckets() {
			m := map[string]snapshotRec{}
			for key, s := range keys.Buckets() {
				m[key] = snapshotRec{name: string(s.Get("name")), parent: string(s.Get("parent"))}
			}
			n.snapshots[sn] = m
		}
		out.namespaces = append(out.namespaces, n)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Snapshot kinds (core/snapshots/snapshotter.go).
const (
	kindView      = 1
	kindActive    = 2
	kindCommitted = 3
)

// backendSnapshot is a snapshot of the overlayfs snapshotter's own
// metadata.db (core/snapshots/storage/bolt.go):
// v1/snapshots/<name>/{id (uvarint), kind (one byte), parent}. Its files
// are in snapshots/<id>/fs.
type backendSnapshot struct {
	id   uint64
	kind byte
}

func parseSnapshotDB(root *boltdb.Bucket) map[string]backendSnapshot {
	out := map[string]backendSnapshot{}
	for name, b := range root.Bucket("v1", "snapshots").Buckets() {
		id, n := binary.Uvarint(b.Get("id"))
		if n <= 0 {
			continue
		}
		var kind byte
		if k := b.Get("kind"); len(k) == 1 {
			kind = k[0]
		}
		out[name] = backendSnapshot{id: id, kind: kind}
	}
	return out
}

// command is the process a container's spec runs: spec is a protobuf Any
// (boltutil.WriteAny) whose value is the OCI runtime spec as JSON
// (typeurl registers the spec type with JSON). Nil when it cannot be read.
func command(spec []byte) []string {
	value := protoBytes(spec, 2)
	if value == nil {
		return nil
	}
	var s struct {
		Process struct {
			Args []string `json:"args"`
		} `json:"process"`
	}
	if json.Unmarshal(value, &s) != nil {
		return nil
	}
	return s.Process.Args
}

// protoBytes returns the bytes of field number field (wire type 2) of the
// protobuf message b, or nil.
func protoBytes(b []byte, field uint64) []byte {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return nil
		}
		b = b[n:]
		switch tag & 7 {
		case 0:
			_, n = binary.Uvarint(b)
			if n <= 0 {
				return nil
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return nil
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return nil
			}
			b = b[4:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return nil
			}
			v := b[n : n+int(l)]
			if tag>>3 == field {
				return v
			}
			b = b[n+int(l):]
		default:
			return nil
		}
	}
	return nil
}
