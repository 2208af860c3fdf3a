package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/strata-forensics/strata/forensics/internal/iox"
)

// indexPlain reads only tar headers (the tar reader seeks over content).
// The input's sha256 is computed by a second reader in the background,
// started by StartHash (or Wait) while the caller goes on to read the
// members: Wait collects it.
func (a *Archive) indexPlain(ctx context.Context, p string, opts Options) error {
	hctx, stop := context.WithCancel(ctx)
	a.hashing, a.stopHash = make(chan struct{}), stop
	a.startHash = func(ws []RegionWatcher) {
		go func() {
			defer close(a.hashing)
			if opts.Throttle != nil {
				defer opts.Throttle(hctx)()
			}
			a.hashSum, a.hashErr = hashFile(hctx, p, ws)
		}()
	}
	return a.indexTar(ctx, p, a.file, opts, nil)
}

// A RegionWatcher is shown the input's bytes as its background hash reads
// them (StartHash), so that other work on the same bytes, such as
// comparing a member with another copy, needs no read of its own.
type RegionWatcher interface {
	// Watch is called from the hash's goroutine with each region of the
	// input as it is hashed: its bytes b, which it must not keep, at
	// offset off, in order from offset 0 and without gaps, with a nil err.
	// It is called a last time with no bytes, off at the end of what was
	// hashed, and a non-nil err: io.EOF once the whole input was hashed,
	// otherwise what stopped the hash, or ErrNotHashed, at once, when
	// StartHash did not start one.
	Watch(off int64, b []byte, err error)
}

// ErrNotHashed is the err a RegionWatcher is given when StartHash did not
// start a hash to watch.
var ErrNotHashed = errors.New("no background hash started for the input")

// StartHash starts the input's own sha256 in the background, showing each
// watcher the bytes on the way, and reports whether it did. It is false
// when the input is not hashed in the background (a folder, an input
// compressed as a whole) or the hash was started already; the watchers
// are then given ErrNotHashed at once. Nil watchers are left out.
func (a *Archive) StartHash(watchers ...RegionWatcher) bool {
	var ws []RegionWatcher
	for _, w := range watchers {
		if w != nil {
			ws = append(ws, w)
		}
	}
	started := false
	if a.startHash != nil {
		a.hashOnce.Do(func() {
			a.startHash(ws)
			started = true
		})
	}
	if !started {
		for _, w := range ws {
			w.Watch(0, nil, ErrNotHashed)
		}
	}
	return started
}

// Wait returns once the input's own sha256 is in Info.SHA256. For an
// uncompressed tar it is computed while the members are read, and Wait
// blocks until that reader is done; for a root-filesystem folder it is
// the sha256 of the tar synthesised from it, which a read of its layer
// computes (else Wait reads it); otherwise it is known when Open returns.
// It must not run concurrently with other uses of Info.
func (a *Archive) Wait() error {
	if a.rootfs != nil && a.rootfs.dir != nil {
		return a.waitRootfsDir()
	}
	if a.hashing == nil {
		return nil
	}
	a.StartHash()
	<-a.hashing
	if a.hashErr != nil {
		return fmt.Errorf("%s: hashing the input: %w", a.Info.Path, a.hashErr)
	}
	a.Info.SHA256 = a.hashSum
	return nil
}

// hashFile is the sha256 of the file at p, read once and shown to ws on
// the way.
func hashFile(ctx context.Context, p string, ws []RegionWatcher) (sum string, err error) {
	var off int64
	defer func() {
		end := err
		if end == nil {
			end = io.EOF
		}
		for _, w := range ws {
			w.Watch(off, nil, end)
		}
	}()
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, readBuffer)
	r := iox.ContextReader{Ctx: ctx, R: f}
	for {
		got, err := io.ReadFull(r, buf)
		h.Write(buf[:got])
		if got > 0 {
			for _, w := range ws {
				w.Watch(off, buf[:got], nil)
			}
		}
		off += int64(got)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return hex.EncodeToString(h.Sum(nil)), nil
		}
		if err != nil {
			return "", err
		}
	}
}
