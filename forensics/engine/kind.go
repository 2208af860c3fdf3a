package engine

import (
	"context"
	"os"
	"sort"

	"github.com/strata-forensics/strata/forensics/archive"
)

// A Kind is one engine's storage as strata finds and reads it below an
// evidence root: what each engine's package says, the opening and closing
// being the same for all.
type Kind struct {
	Format archive.Format
	// Find returns where the engine's storage lies below the evidence
	// root (s.Ev), "." for the root itself, reading no more than that
	// takes; ok is false when it is not there.
	Find func(s *Store) (base string, ok bool)
	// Load reads the engine's records at base into s.
	Load func(ctx context.Context, s *Store, base string) error
}

// Open returns the engine's storage found in the folder root, or nil and
// no error when there is none (an archive.StoreOpener).
func (k Kind) Open(ctx context.Context, root string) (archive.Store, error) {
	ev, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	s := NewStore(ev, k.Format)
	base, ok := k.Find(s)
	if !ok {
		s.Close() // its custody's descriptor too, not only ev
		return nil, nil
	}
	if err := k.Load(ctx, s, base); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Is reports whether the folder root holds the engine's storage, as Open
// would find it.
func (k Kind) Is(root string) bool {
	ev, err := os.OpenRoot(root)
	if err != nil {
		return false
	}
	s := NewStore(ev, k.Format)
	defer s.Close() // its custody's descriptor too, not only ev
	_, ok := k.Find(s)
	return ok
}

// IsHex64 reports whether id is 64 lowercase hex digits: a sha256's hex,
// or one of the random IDs engines name folders by (cache-id, mount-id,
// layer IDs). Nothing else may name a path.
func IsHex64(id string) bool {
	if len(id) != 64 {
		return false
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ReadDir lists the names in folder dir below root, sorted.
func ReadDir(root *os.Root, dir string) ([]string, error) {
	f, err := root.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}
