package pkgdb

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// lineScanner splits a text database into lines with bufio.Scanner,
// accepting CRLF and a last line without newline, and remembers where each
// line starts so errors can name an offset.
type lineScanner struct {
	sc    *bufio.Scanner
	start int64 // offset of the line Scan last returned
	pos   int64 // bytes the split function has consumed
}

func newLineScanner(r io.Reader) *lineScanner {
	ls := &lineScanner{}
	ls.sc = bufio.NewScanner(r)
	ls.sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	ls.sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		adv, tok, err := bufio.ScanLines(data, atEOF)
		if adv > 0 {
			ls.start = ls.pos
			ls.pos += int64(adv)
		}
		return adv, tok, err
	})
	return ls
}

func (ls *lineScanner) Scan() bool   { return ls.sc.Scan() }
func (ls *lineScanner) Line() []byte { return ls.sc.Bytes() }

// Err wraps the scanner's error with the file name and the offset where
// reading stopped.
func (ls *lineScanner) Err(file string) error {
	err := ls.sc.Err()
	if err == nil {
		return nil
	}
	if errors.Is(err, bufio.ErrTooLong) {
		err = fmt.Errorf("%w: line longer than %d bytes", ErrMalformed, maxLine)
	}
	return &FormatError{File: file, Offset: ls.pos, Err: err}
}

// isBlank says whether a line separates paragraphs: empty, or only spaces
// and tabs, as deb822 and apk's installed file both treat it.
func isBlank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}
