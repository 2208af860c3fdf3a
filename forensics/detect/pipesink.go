package detect

import (
	"io"

	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/pkgdb"
)

// pipeSink hands a file's bytes to a parser running on its own goroutine
// through an io.Pipe, so nested archives are read as they stream past. The
// goroutine drains the pipe after its parser returns, so the walk never
// blocks on a parser that gave up early.
type pipeSink struct {
	pw   *io.PipeWriter
	done chan struct{}
}

func startPipe(run func(r io.Reader)) *pipeSink {
	pr, pw := io.Pipe()
	p := &pipeSink{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		run(pr)
		io.Copy(io.Discard, pr)
	}()
	return p
}

func (p *pipeSink) Write(b []byte) (int, error) { return p.pw.Write(b) }

// finish ends the stream (with the walk's error, if any) and waits for the
// parser.
func (p *pipeSink) finish(err error) {
	if err != nil {
		p.pw.CloseWithError(err)
	} else {
		p.pw.Close()
	}
	<-p.done
}

// dbSink parses a package database.
type dbSink struct {
	*pipeSink
	s    *LayerScan
	pkgs []pkgdb.Package
	err  error
}

func (s *LayerScan) newDBSink(eco pkgdb.Ecosystem, ent *layer.Entry) *dbSink {
	d := &dbSink{s: s}
	p, size, max := ent.Path, ent.Size, s.e.maxDB()
	d.pipeSink = startPipe(func(r io.Reader) { d.pkgs, d.err = pkgdb.Parse(eco, p, r, size, max) })
	return d
}

func (d *dbSink) Done(e *layer.Entry, err error) {
	d.finish(err)
	if err != nil {
		return
	}
	if d.err != nil {
		d.s.errorf("package database %s: %v", e.Path, d.err)
	}
	// A damaged text database still names what it could read.
	d.s.res.Packages[e.Path] = append([]pkgdb.Package{}, d.pkgs...)
}
