package layercache

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Key authenticates the entries of a cache folder (HMAC-SHA256). It is
// kept outside the folder: whoever can write the folder but not read the
// key cannot make an entry strata takes.
type Key struct {
	secret []byte
	id     string
	// Path is the file the key was read from; "" for a key made in memory.
	Path string
}

// MinKeyBytes is the shortest key accepted: 256 bits, as many as the
// HMAC-SHA256 output.
const MinKeyBytes = 32

// maxKeyBytes bounds what is read of a key file: a key, not a file that
// happens to be named.
const maxKeyBytes = 4096

// KeyIDBytes is how many bytes of the key's sha256 name it (KeyID): enough
// to tell keys apart, nothing that helps guess one.
const KeyIDBytes = 8

// NewKey returns a key of the given secret bytes, at least MinKeyBytes.
func NewKey(secret []byte) (*Key, error) {
	if len(secret) < MinKeyBytes {
		return nil, fmt.Errorf("cache key: %d bytes; at least %d are needed", len(secret), MinKeyBytes)
	}
	sum := sha256.Sum256(secret)
	return &Key{secret: bytes.Clone(secret), id: hex.EncodeToString(sum[:KeyIDBytes])}, nil
}

// ID names the key in entries and reports: the first KeyIDBytes of the
// sha256 of the key, in hex. The key itself is never recorded.
func (k *Key) ID() string {
	if k == nil {
		return ""
	}
	return k.id
}

// DefaultKeyPath is where the key lives when none is given: cache.key in
// strata's folder of the user's configuration folder (os.UserConfigDir:
// $XDG_CONFIG_HOME or ~/.config on Linux, ~/Library/Application Support
// on macOS, %AppData% on Windows).
func DefaultKeyPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cache key: no configuration folder to keep it in (%w); give one with --cache-key FILE", err)
	}
	return filepath.Join(dir, "strata", "cache.key"), nil
}

// LoadKey reads the key in the file at path: its bytes, less trailing
// white space (a key written as hex, or put in a Kubernetes Secret with a
// final newline), at least MinKeyBytes of them. A file that others may
// read or write (any group or other permission bit) is refused, and so is
// a symbolic link: a key anyone else can read authenticates nothing, and a
// link can be pointed elsewhere after it was checked. On Windows, where
// permission bits say nothing of who may read a file, only the link is
// refused.
func LoadKey(path string) (*Key, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("cache key %s: %w", path, err)
	}
	if err := checkKeyFile(path, st); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cache key %s: %w", path, err)
	}
	defer f.Close()
	// The file opened must be the file checked: no link swapped in since.
	if fst, err := f.Stat(); err != nil || !os.SameFile(st, fst) {
		return nil, fmt.Errorf("cache key %s: changed while it was opened", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cache key %s: %w", path, err)
	}
	if len(b) > maxKeyBytes {
		return nil, fmt.Errorf("cache key %s: larger than %d bytes: not a key", path, maxKeyBytes)
	}
	k, err := NewKey(bytes.TrimRight(b, " \t\r\n"))
	if err != nil {
		return nil, fmt.Errorf("cache key %s: %d bytes (less trailing white space); at least %d are needed", path, len(bytes.TrimRight(b, " \t\r\n")), MinKeyBytes)
	}
	k.Path = path
	return k, nil
}

// checkKeyFile refuses a key file that is a link, not a regular file, or
// open to others.
func checkKeyFile(path string, st fs.FileInfo) error {
	switch {
	case st.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("cache key %s: is a symbolic link; refused (name the key file itself: a link can be pointed at another file)", path)
	case !st.Mode().IsRegular():
		return fmt.Errorf("cache key %s: not a regular file (%s)", path, st.Mode().Type())
	case runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("cache key %s: mode %04o lets others read or write it; refused (chmod 600 %s)", path, st.Mode().Perm(), path)
	}
	return nil
}

// LoadOrCreateKey reads the key at path, creating it first when there is
// none: 32 random bytes written as hex, mode 0600, in a folder created with
// mode 0700. Two processes creating it at once end up with the same key:
// the file appears under its name complete, and only once.
func LoadOrCreateKey(path string) (*Key, error) {
	k, err := LoadKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache key %s: %w", path, err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("cache key %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".incomplete-*")
	if err != nil {
		return nil, fmt.Errorf("cache key %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = io.WriteString(tmp, hex.EncodeToString(secret)+"\n")
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("cache key %s: %w", path, err)
	}
	// A hard link never replaces a file: a key another process made
	// meanwhile stays, and both use it.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		if !linkUnsupported(err) {
			return nil, fmt.Errorf("cache key %s: %w", path, err)
		}
		// A file system without hard links: create it exclusively.
		f, cerr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if cerr == nil {
			_, cerr = io.WriteString(f, hex.EncodeToString(secret)+"\n")
			if err := f.Close(); cerr == nil {
				cerr = err
			}
		}
		if cerr != nil && !errors.Is(cerr, fs.ErrExist) {
			return nil, fmt.Errorf("cache key %s: %w", path, cerr)
		}
	}
	return LoadKey(path)
}

// linkUnsupported says whether a hard link failed for want of support
// rather than for the name being taken.
func linkUnsupported(err error) bool {
	var le *os.LinkError
	if !errors.As(err, &le) {
		return false
	}
	s := le.Err.Error()
	return errors.Is(le.Err, errors.ErrUnsupported) || strings.Contains(s, "not supported") || strings.Contains(s, "not permitted")
}

// within says whether file lies inside the folder dir: both made
// absolute, with the links of their longest existing part followed (the
// cache folder may not exist yet).
func within(dir, file string) bool {
	d, f := resolve(dir), resolve(file)
	if d == "" || f == "" {
		return false
	}
	rel, err := filepath.Rel(d, f)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// resolve makes p absolute and follows the links of its longest existing
// leading part; "" when p cannot be made absolute.
func resolve(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	rest := ""
	for cur := abs; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}
