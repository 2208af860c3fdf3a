package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// unreferenced lists members nothing refers to: everything under blobs/,
// and for a legacy docker save the layer.tar files and <hex>.json configs.
// The image-layout spec allows them and Docker 25+ writes some in every
// save (each layer's legacy v1 JSON), so they are described, never failed.
// Aliases (linked members) share an offset with the member they name.
func (l *loader) unreferenced() {
	reachedAt := map[int64]bool{}
	for _, m := range l.a.Members() {
		if l.reached[m.Name] && m.Offset > 0 {
			reachedAt[m.Offset] = true
		}
	}
	for _, m := range l.a.Members() {
		if l.ctx.Err() != nil {
			return
		}
		if l.reached[m.Name] || (m.Offset > 0 && reachedAt[m.Offset]) {
			continue
		}
		switch {
		case strings.HasPrefix(m.Name, "blobs/"):
			id := m.Name
			if d := blob.FromPath(m.Name); d != "" {
				id = d.String()
			}
			content, platform := l.sniff(m.Name, m.Size)
			if content == "config" && platform != "" {
				l.leftConfigs[platform] = append(l.leftConfigs[platform], id)
			}
			l.record(integrity.Problem{Blob: id, Kind: integrity.Unreferenced, Content: content, Size: m.Size,
				Detail: fmt.Sprintf("%s (%d bytes, %s) is not reached from index.json or manifest.json", m.Name, m.Size, content)})
		case !l.a.Info.OCI && isLegacyBlob(m.Name):
			content, _ := l.sniff(m.Name, m.Size)
			l.record(integrity.Problem{Blob: m.Name, Kind: integrity.Unreferenced, Content: content, Size: m.Size,
				Detail: fmt.Sprintf("%s (%d bytes, %s) is not referred to by manifest.json", m.Name, m.Size, content)})
		}
	}
}

// sniffBytes is how much of an unreferenced blob is read to say what it is.
const sniffBytes = 64 << 10

// sniff says what an unreferenced blob is from its first bytes: an index,
// a manifest, an image config (with its platform), a legacy v1 layer JSON,
// a layer (a tar, compressed or not), else unknown.
func (l *loader) sniff(name string, size int64) (content, platform string) {
	rc, err := l.a.Open(name)
	if err != nil {
		return "unreadable", ""
	}
	defer rc.Close()
	head, _ := io.ReadAll(io.LimitReader(rc, sniffBytes))
	trimmed := bytes.TrimLeft(head, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		if int64(len(head)) < size {
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
