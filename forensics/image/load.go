package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// Options bound the work Load does on hostile input.
type Options struct {
	// MaxIndexDepth is how many indexes deep (index.json counting as one)
	// Load follows nested indexes; 0 means 8.
	MaxIndexDepth int
	// MaxJSON is the largest index, manifest or config Load reads, in
	// bytes; 0 means 16 MiB.
	MaxJSON int64
}

// ErrNoImages is returned when an input has neither a readable index.json
// nor a readable manifest.json.
var ErrNoImages = errors.New("no readable index.json or manifest.json")

// Load resolves every image in src. An OCI layout's index.json is the truth
// when the input carries one (a Docker 25+ docker save adds names from its
// manifest.json); otherwise docker save's manifest.json is. Every index,
// manifest and config is read through a verifying reader; whatever is wrong
// becomes an integrity.Problem and Load goes on with what is still
// readable. Layer blobs are not read here: the scan verifies them while it
// streams them. Load returns an error only when the input is unusable. A
// root filesystem (a docker export, a folder: archive.RootFS) is one image
// of one layer with no config and no history, and a record saying so.
func Load(ctx context.Context, src Source, opts Options) ([]*Image, []integrity.Problem, error) {
	if opts.MaxIndexDepth <= 0 {
		opts.MaxIndexDepth = 8
	}
	if opts.MaxJSON <= 0 {
		opts.MaxJSON = 16 << 20
	}
	if imgs, problems, ok := loadRootFS(src); ok {
		return imgs, problems, nil
	}
	l := &loader{
		ctx:         ctx,
		src:         src,
		oci:         hasLayout(src),
		madeFrom:    madeFrom(src),
		opts:        opts,
		reached:     map[string]bool{},
		blobs:       map[digest.Digest]*blobResult{},
		byDigest:    map[digest.Digest]*Image{},
		byConfig:    map[string]*Image{},
		reported:    map[integrity.Problem]bool{},
		queued:      map[string]queuedBlob{},
		configs:     map[*Image]*configFile{},
		mismatched:  map[digest.Digest]bool{},
		leftConfigs: map[string][]string{},
	}
	var err error
	if c, ok := catalogOf(src); ok {
		err = l.loadCatalog(c)
	} else {
		err = l.load()
	}
	if err != nil {
		return nil, l.problems, err
	}
	if err := ctx.Err(); err != nil {
		return nil, l.problems, err
	}
	l.referencedOnly()
	l.checkCounts()
	l.attach()
	l.readQueued(l.unreferenced())
	l.leftBehind()
	imgs := l.images
	for _, img := range imgs {
		img.Names = uniqueSorted(img.Names)
	}
	sortImages(imgs)
	pinRefs(imgs)
	return imgs, l.problems, nil
}

type loader struct {
	ctx      context.Context
	src      Source
	oci      bool   // src carries an OCI image layout
	madeFrom string // what a store made the layout's index.json from (IndexMaker)
	opts     Options
	problems []integrity.Problem
	reported map[integrity.Problem]bool
	// reached holds every member an index, manifest or manifest.json
	// refers to; what remains under blobs/ is extra.
	reached map[string]bool
	blobs   map[digest.Digest]*blobResult
	images  []*Image
	// byDigest finds an image already loaded from a manifest, byConfig one
	// loaded from a manifest.json entry (by config member name).
	byDigest map[digest.Digest]*Image
	byConfig map[string]*Image
	steps    int
	// attachments are every attachment found, given to their images
	// once all are loaded; queue holds, in order, the members of the
	// blobs to verify without parsing them (queued), read at the end.
	attachments []*Attachment
	queue       []string
	queued      map[string]queuedBlob
	// configs keeps each OCI image's config for manifest.json's checks;
	// counts the diff_ids counts to check at the end.
	configs map[*Image]*configFile
	counts  []diffIDCount
	// configless are the manifests whose config is absent; mismatched
	// the JSON blobs whose content failed their digest or size.
	configless []pendingManifest
	mismatched map[digest.Digest]bool
	// leftConfigs are the unreferenced configs by platform.
	leftConfigs map[string][]string
}

func (l *loader) problem(name string, k integrity.Kind, format string, args ...any) {
	l.record(integrity.Problem{Blob: name, Kind: k, Detail: fmt.Sprintf(format, args...)})
}

// record keeps p once.
func (l *loader) record(p integrity.Problem) {
	if p.Blob == "" {
		// A descriptor with an empty digest names no blob; a report
		// must still say which problem row this is.
		p.Blob = "(empty digest)"
	}
	if l.reported[p] {
		return
	}
	l.reported[p] = true
	l.problems = append(l.problems, p)
}

func (l *loader) load() error {
	var indexErr error
	if l.oci {
		indexErr = l.loadIndexJSON()
		if indexErr == nil {
			if _, ok := l.src.Stat("manifest.json"); ok {
				// Docker 25+: names from manifest.json and repositories;
				// entries matching no manifest are loaded as docker load
				// would see them.
				l.loadManifestJSON(true)
			}
			return nil
		}
		if _, ok := l.src.Stat("manifest.json"); !ok {
			return indexErr
		}
	}
	if err := l.loadManifestJSON(false); err != nil {
		if indexErr != nil {
			return fmt.Errorf("%w; %w", indexErr, err)
		}
		return err
	}
	return nil
}

// blobResult caches a content-addressed JSON blob once read, so a blob
// reached twice is read, and reported, once.
type blobResult struct {
	data []byte
	ok   bool
}

// readBlob reads a content-addressed JSON blob of the layout through a
// Verifier. A digest or size mismatch is recorded and the content as
// stored is still returned: a tampered image is exactly what an examiner
// wants described.
func (l *loader) readBlob(d digest.Digest, size int64, what string) ([]byte, bool) {
	if err := blob.Validate(d); err != nil {
		l.problem(shorten(string(d)), integrity.BadDigest, "%s: %v", what, err)
		return nil, false
	}
	if r, ok := l.blobs[d]; ok {
		return r.data, r.ok
	}
	r := &blobResult{}
	l.blobs[d] = r
	name := blob.Path(d)
	l.reached[name] = true
	r.data, r.ok = l.readVerified(name, d, size, d.String(), what)
	return r.data, r.ok
}

// readVerified reads member name, bounded by MaxJSON, checking it against
// d and size when d is set. id names the blob in problems.
func (l *loader) readVerified(name string, d digest.Digest, size int64, id, what string) ([]byte, bool) {
	return l.readBounded(name, d, size, id, what, l.opts.MaxJSON)
}

// readBounded is readVerified within bound bytes.
func (l *loader) readBounded(name string, d digest.Digest, size int64, id, what string, bound int64) ([]byte, bool) {
	m, ok := l.src.Stat(name)
	if !ok {
		l.problem(id, integrity.MissingBlob, "%s: %s is not in the archive", what, name)
		return nil, false
	}
	if m.Size > bound || size > bound {
		l.problem(id, integrity.Limit, "%s: %s is %d bytes (descriptor says %d), more than the %d bytes read for JSON",
			what, name, m.Size, size, bound)
		return nil, false
	}
	rc, err := l.src.Open(name)
	if err != nil {
		l.problem(id, integrity.Truncated, "%s: opening %s: %v", what, name, err)
		return nil, false
	}
	defer rc.Close()
	if d == "" {
		data, err := io.ReadAll(io.LimitReader(rc, bound))
		if err != nil {
			l.problem(id, integrity.Truncated, "%s: reading %s: %v", what, name, err)
			return nil, false
		}
		return data, true
	}
	var buf bytes.Buffer
	if n := max(size, m.Size); n > 0 && n <= bound {
		buf.Grow(int(n) + bytes.MinRead) // one allocation; ReadFrom asks for MinRead free to see the end
	}
	_, err = io.Copy(&buf, blob.NewVerifier(rc, d, size))
	switch {
	case err == nil:
		return buf.Bytes(), true
	case errors.Is(err, blob.ErrDigestMismatch):
		l.mismatched[d] = true
		l.problem(id, integrity.DigestMismatch, "%s: %v", what, err)
		return buf.Bytes(), true
	case errors.Is(err, blob.ErrSizeMismatch):
		l.mismatched[d] = true
		l.problem(id, integrity.SizeMismatch, "%s: %s is %d bytes: %v", what, name, m.Size, err)
		// Describe the content as stored: read the member whole (it is
		// within MaxJSON) and say whether it at least hashes to d.
		data, ok := l.readVerified(name, "", -1, id, what)
		if got := d.Algorithm().FromBytes(data); ok && got != d {
			l.problem(id, integrity.DigestMismatch, "%s: expected %s, got %s", what, d, got)
		}
		return data, ok
	default:
		l.problem(id, integrity.Truncated, "%s: reading %s: %v", what, name, err)
		return nil, false
	}
}

func isLegacyBlob(name string) bool {
	dir, base, _ := strings.Cut(name, "/")
	switch {
	case base == "layer.tar":
		return !strings.Contains(dir, "/")
	case base == "" && strings.HasSuffix(dir, ".json"):
		return isHex64(strings.TrimSuffix(dir, ".json"))
	}
	return false
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// shorten keeps hostile strings short in problems.
func shorten(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

func uniqueSorted(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	out := names[:1]
	for _, n := range names[1:] {
		if n != out[len(out)-1] {
			out = append(out, n)
		}
	}
	return out
}

// sortImages orders images by first name (named before unnamed), then
// manifest digest, platform and config digest.
func sortImages(imgs []*Image) {
	sort.SliceStable(imgs, func(i, j int) bool {
		a, b := imgs[i], imgs[j]
		if (len(a.Names) == 0) != (len(b.Names) == 0) {
			return len(a.Names) > 0
		}
		if len(a.Names) > 0 && a.Names[0] != b.Names[0] {
			return a.Names[0] < b.Names[0]
		}
		if a.ManifestDigest != b.ManifestDigest {
			return a.ManifestDigest < b.ManifestDigest
		}
		if a.Platform != b.Platform {
			return a.Platform < b.Platform
		}
		return a.ConfigDigest < b.ConfigDigest
	})
}
