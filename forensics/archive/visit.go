package archive

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/internal/iox"
)

// Visit calls fn once for each named member with a reader of its bytes.
// For a compressed input it serves the members kept in memory first, then
// makes a single decompression pass for the others, in archive order (none
// when every member wanted is in memory); otherwise it runs up to parallel
// calls at once, largest member first, so fn must be safe for concurrent
// use. A member the input lacks is passed to fn as an error reader
// wrapping ErrNotExist. fn's errors are joined and returned.
func (a *Archive) Visit(ctx context.Context, names []string, parallel int, fn func(name string, r io.Reader) error) error {
	return a.visit(ctx, names, parallel, true, fn)
}

// VisitInOrder is Visit, but members read in place are started in the
// order of names, not largest first: for a caller that builds and lets
// go as it goes (a registry's images on one base, then the next), so that
// what it holds at once is bounded by its order, not by the input.
func (a *Archive) VisitInOrder(ctx context.Context, names []string, parallel int, fn func(name string, r io.Reader) error) error {
	return a.visit(ctx, names, parallel, false, fn)
}

func (a *Archive) visit(ctx context.Context, names []string, parallel int, largestFirst bool, fn func(name string, r io.Reader) error) error {
	if parallel < 1 {
		parallel = 1
	}
	var wanted []*Member
	var errs []error
	seen := map[string]bool{}
	rank := map[*Member]int{} // the order of names
	for _, n := range names {
		n = cleanName(n)
		if seen[n] {
			continue
		}
		seen[n] = true
		m, ok := a.members[n]
		if !ok {
			if err := fn(n, iox.ErrReader{Err: fmt.Errorf("%s: %w", n, ErrNotExist)}); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		rank[m] = len(wanted)
		wanted = append(wanted, m)
	}
	sort.Slice(wanted, func(i, j int) bool { return wanted[i].Offset < wanted[j].Offset })
	if a.compressed {
		// Members the index kept in memory cost no pass; the others
		// share one, so a visit of small members alone reads nothing.
		var stream []*Member
		for _, m := range wanted {
			if _, ok := a.small[m.Name]; !ok {
				stream = append(stream, m)
				continue
			}
			if err := a.visitOne(m, fn); err != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, a.visitStream(ctx, stream, fn)...)
		return errors.Join(errs...)
	}
	// Members read in place can go in any order: largest first, so that
	// the last big blob does not run alone while the other cores idle.
	if largestFirst {
		sort.SliceStable(wanted, func(i, j int) bool { return wanted[i].Size > wanted[j].Size })
	} else {
		sort.SliceStable(wanted, func(i, j int) bool { return rank[wanted[i]] < rank[wanted[j]] })
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan *Member)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				err := a.visitOne(m, fn)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, m := range wanted {
		if ctx.Err() != nil {
			break
		}
		work <- m
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (a *Archive) visitOne(m *Member, fn func(string, io.Reader) error) error {
	rc, err := a.Open(m.Name)
	if err != nil {
		return fn(m.Name, iox.ErrReader{Err: err})
	}
	defer rc.Close()
	return fn(m.Name, &lazyBuffer{r: rc})
}

// readBuffer is the size of the reads made on an input file.
const readBuffer = 256 << 10

// lazyBuffer reads r through a readBuffer-sized buffer, made at the first
// read. Consumers read in small pieces (a decompressor's 4 KiB,
// io.Discard's 8 KiB): one system call per piece cost a tenth of a big
// scan. Many members are visited and never read, though: in a fleet, each
// input's copy of a shared base layer is verified by the input's own hash
// (a byte comparison with the copy walked), and its visit only waits for
// that; with a buffer made up front, the inputs waiting for the base's
// walk held 8 MB of buffers between them.
type lazyBuffer struct {
	r io.Reader
	b *bufio.Reader
}

func (l *lazyBuffer) buf() *bufio.Reader {
	if l.b == nil {
		l.b = bufio.NewReaderSize(l.r, readBuffer)
	}
	return l.b
}

func (l *lazyBuffer) Read(p []byte) (int, error) { return l.buf().Read(p) }

// WriteTo lets io.Copy use the buffer's, as it did bufio.Reader's.
func (l *lazyBuffer) WriteTo(w io.Writer) (int64, error) { return l.buf().WriteTo(w) }

func (a *Archive) visitStream(ctx context.Context, wanted []*Member, fn func(string, io.Reader) error) []error {
	if len(wanted) == 0 {
		return nil
	}
	f, err := a.reopen()
	if err != nil {
		return []error{err}
	}
	defer f.Close()
	dec, err := compress.Open(iox.ContextReader{Ctx: ctx, R: f}, a.Info.Compression)
	if err != nil {
		return []error{err}
	}
	defer dec.Close()
	var errs []error
	var pos int64
	for _, m := range wanted {
		if m.Offset < pos {
			// An alias of a member already passed (a linked layer folder).
			if err := a.visitOne(m, fn); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if _, err := io.CopyN(io.Discard, dec, m.Offset-pos); err != nil {
			errs = append(errs, &FormatError{File: a.Info.Path, Offset: pos, Err: err})
			return errs
		}
		lr := &io.LimitedReader{R: dec, N: m.Size}
		if err := fn(m.Name, lr); err != nil {
			errs = append(errs, err)
		}
		rest := lr.N
		if _, err := io.Copy(io.Discard, lr); err != nil {
			errs = append(errs, &FormatError{File: a.Info.Path, Offset: m.Offset + m.Size - rest, Err: err})
			return errs
		}
		pos = m.Offset + m.Size
	}
	return errs
}
