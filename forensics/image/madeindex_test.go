package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// madeLayout is a mapSource whose index.json its store made (a registry's
// storage, image.IndexMaker).
type madeLayout struct{ mapSource }

func (m madeLayout) Store() archive.Store { return madeStore(m) }

type madeStore struct{ mapSource }

func (madeStore) Info() archive.Info                     { return archive.Info{} }
func (madeStore) Problems() []integrity.Problem          { return nil }
func (madeStore) Close() error                           { return nil }
func (madeStore) IndexFrom() string                      { return "the tags' links" }
func (s madeStore) Open(n string) (io.ReadCloser, error) { return s.mapSource.Open(n) }

// TestMadeIndexPastMaxJSON: the index.json a store made from its tags is
// read past MaxJSON (which bounds the evidence's own JSON: a registry of
// 100,000 tags makes one of some 20 MiB), and an index.json found in the
// evidence is not.
func TestMadeIndexPastMaxJSON(t *testing.T) {
	var entries []string
	for i := range 50 {
		entries = append(entries, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%064x","size":2,"annotations":{"org.opencontainers.image.ref.name":"repo:tag-%d"}}`, i, i))
	}
	src := mapSource{
		"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`),
		"index.json": []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + strings.Join(entries, ",") + `]}`),
	}
	opts := Options{MaxJSON: 1 << 10}
	limited := func(ps []integrity.Problem) bool {
		for _, p := range ps {
			if p.Kind == integrity.Limit && p.Blob == "index.json" {
				return true
			}
		}
		return false
	}
	_, ps, err := Load(context.Background(), src, opts)
	if !errors.Is(err, ErrNoImages) || !limited(ps) {
		t.Errorf("an index.json of the evidence past MaxJSON: %v, %v; want it refused at the limit", err, ps)
	}
	_, ps, err = Load(context.Background(), madeLayout{src}, opts)
	if err != nil || limited(ps) {
		t.Errorf("an index.json the store made: %v, %v; want it read", err, ps)
	}
	missing := 0
	for _, p := range ps {
		if p.Kind == integrity.MissingBlob {
			missing++
		}
	}
	if missing != 50 {
		t.Errorf("%d manifests missing, want the 50 the index names: %v", missing, ps)
	}
}
