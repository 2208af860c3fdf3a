package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// uploads lists a repository's interrupted uploads: a push that never
// completed leaves _uploads/<id>/ (data, startedat, hashstates) until the
// registry purges it (one still under way looks the same on a disk). Its
// bytes are no blob: nothing names them by digest, and a layer cut short
// cannot be read to its end, so they are described, not scanned.
func (s *Store) uploads(r *repository) {
	dir := path.Join(r.dir, "_uploads")
	ents, err := s.readDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.problem(dir, integrity.Unreadable, "%s: uploads: %v", r.name, err)
		}
		return
	}
	for _, e := range ents {
		up := path.Join(dir, e.Name())
		p := integrity.Problem{Blob: up, Kind: integrity.Unreferenced, Content: "interrupted upload"}
		var parts []string
		if started, _, err := s.custody.ReadSmall(path.Join(up, "startedat"), 64); err == nil {
			parts = append(parts, "started "+strings.TrimSpace(string(started)))
		}
		if fi, err := s.files.Lstat(path.Join(up, "data")); err == nil && fi.Mode().IsRegular() {
			p.Size = fi.Size()
			parts = append(parts, fmt.Sprintf("%d bytes received", fi.Size()))
			if what := s.sniffUpload(path.Join(up, "data")); what != "" {
				parts = append(parts, what)
			}
		} else {
			parts = append(parts, "no data")
		}
		p.Detail = fmt.Sprintf("%s: an upload not completed when the storage was acquired (%s); its bytes are no blob and are not scanned", r.name, strings.Join(parts, ", "))
		s.problems = append(s.problems, p)
	}
}

// sniffUpload says what an upload's first bytes look like.
func (s *Store) sniffUpload(name string) string {
	f, err := archive.OpenRegular(s.ev, name)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	return sniff(head[:n])
}

// sniff says what the first bytes of an upload look like: a layer's
// (compressed, or a tar), JSON (a manifest or config), else nothing.
func sniff(head []byte) string {
	switch {
	case compress.Sniff(head) != compress.None:
		return fmt.Sprintf("its first bytes are %s-compressed, as a layer's are", compress.Sniff(head))
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		return "its first bytes are a tar's, as a layer's are"
	case len(bytes.TrimLeft(head, " \t\r\n")) > 0 && bytes.TrimLeft(head, " \t\r\n")[0] == '{':
		return "its first bytes are JSON"
	}
	return ""
}
