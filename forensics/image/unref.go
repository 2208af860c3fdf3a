package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// unreferenced lists members nothing refers to: everything under blobs/,
// and for a legacy docker save the layer.tar files and <hex>.json configs.
// The image-layout spec allows them and Docker 25+ writes some in every
// save (each layer's legacy v1 JSON), so they are described, never failed.
// Aliases (linked members) share an offset with the member they name.
func (l *loader) unreferenced() []archive.Member {
	reachedAt := map[int64]bool{}
	for _, m := range l.src.Members() {
		if l.reached[m.Name] && m.Offset > 0 {
			reachedAt[m.Offset] = true
		}
	}
	var out []archive.Member
	for _, m := range l.src.Members() {
		if l.reached[m.Name] || (m.Offset > 0 && reachedAt[m.Offset]) {
			continue
		}
		if strings.HasPrefix(m.Name, "blobs/") || (!l.oci && isLegacyBlob(m.Name)) {
			out = append(out, m)
		}
	}
	return out
}

// readQueued reads, in one pass over the input (visit), the blobs
// queued to be verified and the first bytes of the unreferenced ones, to
// say what they are, then records both in a fixed order. A member the pass
// never reached (the input broke off) is recorded as unread.
func (l *loader) readQueued(unref []archive.Member) {
	names := append([]string(nil), l.queue...)
	sizes := map[string]int64{}
	for _, m := range unref {
		names = append(names, m.Name)
		sizes[m.Name] = m.Size
	}
	if len(names) == 0 {
		return
	}
	type sniffed struct{ content, platform string }
	checked := map[string]*integrity.Problem{}
	seen := map[string]sniffed{}
	err := visit(l.ctx, l.src, names, func(name string, r io.Reader) error {
		if q, ok := l.queued[name]; ok {
			checked[name] = verifyStream(q, name, r)
			return nil
		}
		// What a broken member still gives is described, as it stands.
		head, _ := io.ReadAll(io.LimitReader(r, sniffBytes))
		c, p := sniff(head, int64(len(head)) < sizes[name])
		seen[name] = sniffed{c, p}
		return nil
	})
	for _, name := range l.queue {
		p, ok := checked[name]
		switch {
		case !ok:
			q := l.queued[name]
			l.record(integrity.Problem{Blob: q.d.Digest.String(), Kind: integrity.Truncated, Detail: fmt.Sprintf("%s: %s not read: %v", q.what, name, err)})
		case p != nil:
			l.record(*p)
		}
	}
	for _, m := range unref {
		s, ok := seen[m.Name]
		if !ok {
			s.content = "unreadable"
		}
		id := m.Name
		if d := blob.FromPath(m.Name); d != "" {
			id = d.String()
			if s.content == "config" && s.platform != "" {
				l.leftConfigs[s.platform] = append(l.leftConfigs[s.platform], id)
			}
		}
		from := "index.json or manifest.json"
		switch {
		case l.madeFrom != "":
			from = l.madeFrom
		case !l.oci && !strings.HasPrefix(m.Name, "blobs/"):
			from = "manifest.json"
		}
		l.record(integrity.Problem{Blob: id, Kind: integrity.Unreferenced, Content: s.content, Size: m.Size,
			Detail: fmt.Sprintf("%s (%d bytes, %s) is not reached from %s", m.Name, m.Size, s.content, from)})
	}
}

// sniffBytes is how much of an unreferenced blob is read to say what it is.
const sniffBytes = 64 << 10

// sniff says what an unreferenced blob is from its first bytes: an index,
// a manifest, an image config (with its platform), a legacy v1 layer JSON,
// a layer (a tar, compressed or not), else unknown. cut says the blob is
// longer than head (or was cut short), so JSON in it cannot be parsed.
func sniff(head []byte, cut bool) (content, platform string) {
	trimmed := bytes.TrimLeft(head, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		if cut {
			return "json", ""
		}
		return jsonContent(head)
	}
	if compress.Sniff(head) != compress.None {
		return "layer", ""
	}
	if len(head) >= 512 && bytes.Equal(head[257:262], []byte("ustar")) {
		return "layer", ""
	}
	return "unknown", ""
}

// jsonContent names a JSON blob by its fields, and an image config's
// platform.
func jsonContent(data []byte) (content, platform string) {
	var v struct {
		versioned
		RootFS          json.RawMessage `json:"rootfs"`
		ID              string          `json:"id"`
		ContainerConfig json.RawMessage `json:"container_config"`
		PredicateType   string          `json:"predicateType"`
	}
	if json.Unmarshal(data, &v) != nil {
		return "json", ""
	}
	switch {
	case v.PredicateType != "":
		return "attestation", ""
	case v.RootFS != nil:
		var cfg configFile
		if json.Unmarshal(data, &cfg) != nil {
			return "config", ""
		}
		return "config", cfg.platform()
	case v.ID != "" && len(v.ID) == 64:
		return "legacy-v1-json", ""
	}
	switch v.versioned.kind() {
	case kindIndex:
		return "index", ""
	case kindManifest, kindSchema1:
		return "manifest", ""
	}
	return "json", ""
}

// leftBehind fails the platforms absent "by design" whose config is still
// in the archive. containerd's exporter writes only blobs reachable from
// what it exports: a producer that leaves a platform out leaves its
// config out too, so a config of that platform left unreferenced means its
// manifest was removed afterwards.
func (l *loader) leftBehind() {
	for i, p := range l.problems {
		if p.Kind != integrity.Absent || p.Reason != integrity.PlatformNotCarried {
			continue
		}
		configs := l.leftConfigs[p.Platform]
		if len(configs) == 0 {
			continue
		}
		l.problems[i] = integrity.Problem{Blob: p.Blob, Kind: integrity.MissingBlob, Platform: p.Platform, Size: p.Size,
			Detail: fmt.Sprintf("manifest for %s is not in the archive, yet a config of that platform is (%s): a producer that leaves a platform out leaves its blobs out too",
				p.Platform, strings.Join(configs, ", "))}
	}
}
