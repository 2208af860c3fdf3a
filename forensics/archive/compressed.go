package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/internal/iox"
)

// progressEvery is how many input bytes go between two Progress calls.
const progressEvery = 4 << 20

// progressReader tells Options.Progress how far the input was read.
type progressReader struct {
	r       io.Reader
	n, next int64
	total   int64
	report  func(read, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.report != nil && (p.n >= p.next || err == io.EOF) {
		p.report(p.n, p.total)
		p.next = p.n + progressEvery
	}
	return n, err
}

// ErrRatio is wrapped by the error an input compressed as a whole gives
// once it expands beyond Options.MaxRatio.
var ErrRatio = errors.New("decompression ratio limit reached (raise with --max-ratio)")

// smallMember is the size up to which members of a compressed input are
// kept in memory during the index pass (indexes, manifests, configs) by
// default, and smallBudget bounds their total.
const (
	smallMember = 1 << 20
	smallBudget = 64 << 20
)

// indexCompressed decompresses the input once and indexes the tar inside:
// without TmpDir the small members are kept in memory, with it the whole
// tar is copied there to be read in place; members not kept are offered
// to Options.Early. The compressed bytes are hashed on the way.
func (a *Archive) indexCompressed(ctx context.Context, p string, opts Options) error {
	h := sha256.New()
	read := &progressReader{r: iox.ContextReader{Ctx: ctx, R: a.file}, total: a.Info.Size, report: opts.Progress}
	raw := &offsetReader{r: io.TeeReader(read, h)}
	dec, err := compress.Open(raw, a.Info.Compression)
	if err != nil {
		return &FormatError{File: p, Offset: 0, Err: err}
	}
	defer dec.Close()
	if opts.MaxRatio <= 0 {
		opts.MaxRatio = 1000
	}
	bound := iox.NewRatioReader(dec, func() int64 { return raw.n }, opts.MaxRatio, func(n, compressed int64) error {
		return fmt.Errorf("%w: %d bytes from %d compressed, beyond %g:1", ErrRatio, n, compressed, opts.MaxRatio)
	})
	var src io.Reader = bound
	if opts.TmpDir != "" {
		tf, err := os.CreateTemp(opts.TmpDir, "strata-*.tar")
		if err != nil {
			return err
		}
		a.tmp = tf.Name()
		src = io.TeeReader(bound, tf)
		defer func() {
			a.file.Close()
			a.file = tf
		}()
	} else {
		a.compressed = true
		a.small = map[string][]byte{}
	}
	budget := int64(smallBudget)
	small := opts.SmallMember
	if small == 0 {
		small = smallMember
	}
	keep := func(name string, size int64, r io.Reader) error {
		if a.small != nil && size <= small && size <= budget {
			b := make([]byte, size)
			if _, err := io.ReadFull(r, b); err != nil {
				return err
			}
			a.small[name] = b
			budget -= size
			return nil
		}
		var read int64
		if opts.Early != nil {
			cr := &offsetReader{r: r}
			opts.Early(name, a.members[name].Offset, size, cr)
			read, r = cr.n, cr
		}
		n, err := io.Copy(io.Discard, r)
		n += read
		if err == nil && n != size {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if err := a.indexTar(ctx, p, src, opts, keep); err != nil {
		return err
	}
	if err := bound.Err(); err != nil {
		// The rest is not decompressed: the members past the limit are
		// missing, and the digest below still covers the whole file.
		a.Problems = append(a.Problems, integrity.Problem{Blob: p, Kind: integrity.Limit,
			Detail: fmt.Sprintf("%s stream: %v; members past it are not indexed", a.Info.Compression, err)})
	} else if _, err := io.Copy(io.Discard, src); err != nil {
		// Read to the end so the digest covers the whole file.
		a.Problems = append(a.Problems, integrity.Problem{Blob: p, Kind: integrity.Truncated,
			Detail: fmt.Sprintf("%s stream: %v", a.Info.Compression, err)})
	}
	read.r = a.file // the rest is hashed, even past a cancelled index
	if _, err := io.Copy(h, read); err != nil {
		return err
	}
	a.Info.SHA256 = hex.EncodeToString(h.Sum(nil))
	return nil
}

// openCompressed decompresses the input again up to m and returns its bytes.
func (a *Archive) openCompressed(m *Member) (io.ReadCloser, error) {
	f, err := a.reopen()
	if err != nil {
		return nil, err
	}
	dec, err := compress.Open(f, a.Info.Compression)
	if err != nil {
		f.Close()
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, dec, m.Offset); err != nil {
		dec.Close()
		f.Close()
		return nil, &FormatError{File: a.Info.Path, Offset: m.Offset, Err: fmt.Errorf("seeking to %s: %w", m.Name, err)}
	}
	return &multiCloser{Reader: io.LimitReader(dec, m.Size), closers: []io.Closer{dec, f}}, nil
}

type multiCloser struct {
	io.Reader
	closers []io.Closer
}

func (m *multiCloser) Close() error {
	for _, c := range m.closers {
		c.Close()
	}
	return nil
}
