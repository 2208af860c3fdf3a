package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// Several is the Format of an evidence root holding the storage of more
// than one engine (Docker beside podman, containerd beside Docker).
const Several archive.Format = "engines"

// OpenAll returns an archive.StoreOpener that opens the storage of every
// engine opens finds in a folder: one store when only one engine's is
// there, else all of them as one, so that a scan of a host's disk lists
// every image and container of every engine.
func OpenAll(opens ...archive.StoreOpener) archive.StoreOpener {
	return func(ctx context.Context, root string) (archive.Store, error) {
		var found []archive.Store
		for _, open := range opens {
			s, err := open(ctx, root)
			if err != nil {
				for _, f := range found {
					f.Close()
				}
				return nil, err
			}
			if s != nil {
				found = append(found, s)
			}
		}
		switch len(found) {
		case 0:
			return nil, nil
		case 1:
			return found[0], nil
		}
		m := &multi{stores: found, byName: map[string]archive.Store{}}
		for _, s := range found {
			for _, mem := range s.Members() {
				if _, ok := m.byName[mem.Name]; !ok {
					m.byName[mem.Name] = s
				}
			}
		}
		return m, nil
	}
}

// multi is the storage of several engines below one evidence root: their
// members are paths below it, so no two engines share a name.
type multi struct {
	stores []archive.Store
	byName map[string]archive.Store
}

// Info: the input's digest is that of a listing of each engine's own
// (itself of a listing of the metadata files it read), with its format,
// as sha256sum prints it.
func (m *multi) Info() archive.Info {
	h := sha256.New()
	var size int64
	var lines []string
	for _, s := range m.stores {
		in := s.Info()
		lines = append(lines, fmt.Sprintf("%s  %s\n", in.SHA256, in.Format))
		size += in.Size
	}
	sort.Strings(lines)
	for _, l := range lines {
		io.WriteString(h, l)
	}
	return archive.Info{Format: Several, SHA256: hex.EncodeToString(h.Sum(nil)), Size: size}
}

func (m *multi) Problems() []integrity.Problem {
	var out []integrity.Problem
	for _, s := range m.stores {
		out = append(out, s.Problems()...)
	}
	return out
}

func (m *multi) Catalog() []image.Entry {
	var out []image.Entry
	for _, s := range m.stores {
		if c, ok := s.(image.Catalog); ok {
			out = append(out, c.Catalog()...)
		}
	}
	return out
}

func (m *multi) Members() []archive.Member {
	var out []archive.Member
	for _, s := range m.stores {
		out = append(out, s.Members()...)
	}
	return out
}

func (m *multi) Open(name string) (io.ReadCloser, error) {
	s, ok := m.byName[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, archive.ErrNotExist)
	}
	return s.Open(name)
}

func (m *multi) Checked(name string, verified bool) []integrity.Problem {
	if c, ok := m.byName[name].(archive.MemberChecker); ok {
		return c.Checked(name, verified)
	}
	return nil
}

func (m *multi) Drifted(name string) []archive.Drifted {
	if d, ok := m.byName[name].(archive.DriftFiles); ok {
		return d.Drifted(name)
	}
	return nil
}

func (m *multi) Close() error {
	var errs []error
	for _, s := range m.stores {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

var (
	_ archive.Store         = (*multi)(nil)
	_ archive.MemberChecker = (*multi)(nil)
	_ archive.DriftFiles    = (*multi)(nil)
	_ image.Catalog         = (*multi)(nil)
)
