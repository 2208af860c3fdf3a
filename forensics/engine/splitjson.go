package engine

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strconv"
	"unicode/utf8"

	"github.com/vbatts/tar-split/tar/storage"
)

// splitReader reads a tar-split's entries as tar-split's own
// storage.NewJSONUnpacker does, one JSON object a line, rejecting a file
// named twice. Lines exactly as storage's packer writes them (its
// json.Encoder, fields in their order, a name with no escapes, plain
// numbers, standard base64) are read by hand: encoding/json cost a sixth
// of a Docker store scan's CPU, and the limit program decodes with it
// too. At the first line that is anything else, the rest of the stream,
// that line included, goes to encoding/json's decoder, so any input gives
// the same entries and the same error as storage's unpacker would;
// FuzzSplitReader holds the two to that.
type splitReader struct {
	br   *bufio.Reader
	dec  *json.Decoder // once a line is not as the packer writes it
	seen map[string]struct{}
}

func newSplitReader(r io.Reader) *splitReader {
	return &splitReader{br: bufio.NewReaderSize(r, 64<<10), seen: map[string]struct{}{}}
}

// Next returns the next entry, or io.EOF after the last.
func (u *splitReader) Next() (*storage.Entry, error) {
	var e storage.Entry
	if u.dec != nil {
		if err := u.dec.Decode(&e); err != nil {
			return nil, err
		}
		return u.checked(&e)
	}
	line, err := u.br.ReadSlice('\n')
	switch {
	case errors.Is(err, io.EOF) && len(line) == 0:
		return nil, io.EOF
	case err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull):
		return nil, err
	}
	if err == nil || errors.Is(err, io.EOF) {
		if ok := parseSplitLine(bytes.TrimSuffix(line, []byte("\n")), &e); ok {
			return u.checked(&e)
		}
	}
	// Anything else is encoding/json's, from this line on.
	u.dec = json.NewDecoder(io.MultiReader(bytes.NewReader(bytes.Clone(line)), u.br))
	return u.Next()
}

// checked rejects a file named twice, as storage's unpacker does.
func (u *splitReader) checked(e *storage.Entry) (*storage.Entry, error) {
	if e.Type == storage.FileType {
		name := filepath.Clean(e.GetName())
		if _, ok := u.seen[name]; ok {
			return nil, storage.ErrDuplicatePath
		}
		u.seen[name] = struct{}{}
	}
	return e, nil
}

// parseSplitLine reads one line as storage's packer writes it:
// {"type":T[,"name":"N"][,"name_raw":"B64"][,"size":S],"payload":("B64"|null),"position":P}
// ok is false for anything else, or anything encoding/json would read
// otherwise (escapes, control or non-UTF-8 bytes in a name, numbers not
// in their plain form).
func parseSplitLine(line []byte, e *storage.Entry) bool {
	p := splitLine{b: line}
	if !p.lit(`{"type":`) {
		return false
	}
	t, ok := p.int()
	if !ok {
		return false
	}
	e.Type = storage.Type(t)
	if p.lit(`,"name":"`) {
		s, ok := p.plainString()
		if !ok {
			return false
		}
		e.Name = s
	}
	if p.lit(`,"name_raw":"`) {
		b, ok := p.base64()
		if !ok {
			return false
		}
		e.NameRaw = b
	}
	if p.lit(`,"size":`) {
		n, ok := p.int()
		if !ok {
			return false
		}
		e.Size = n
	}
	if !p.lit(`,"payload":`) {
		return false
	}
	switch {
	case p.lit(`null`):
	case p.lit(`"`):
		b, ok := p.base64()
		if !ok {
			return false
		}
		e.Payload = b
	default:
		return false
	}
	if !p.lit(`,"position":`) {
		return false
	}
	pos, ok := p.int()
	if !ok || pos != int64(int(pos)) || !p.lit(`}`) {
		return false
	}
	e.Position = int(pos)
	return len(p.b) == 0
}

type splitLine struct{ b []byte }

func (p *splitLine) lit(s string) bool {
	if len(p.b) < len(s) || string(p.b[:len(s)]) != s {
		return false
	}
	p.b = p.b[len(s):]
	return true
}

// int reads a JSON integer in its plain form (no leading zeros, no
// fraction, no exponent), as int64.
func (p *splitLine) int() (int64, bool) {
	i := 0
	if i < len(p.b) && p.b[i] == '-' {
		i++
	}
	start := i
	for i < len(p.b) && p.b[i] >= '0' && p.b[i] <= '9' {
		i++
	}
	digits := p.b[start:i]
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	if i < len(p.b) && (p.b[i] == '.' || p.b[i] == 'e' || p.b[i] == 'E') {
		return 0, false
	}
	v, err := strconv.ParseInt(string(p.b[:i]), 10, 64)
	if err != nil {
		return 0, false
	}
	p.b = p.b[i:]
	return v, true
}

// plainString reads a string's bytes up to its closing quote, when it has
// no escape, no control byte and is valid UTF-8: what encoding/json would
// read as they are.
func (p *splitLine) plainString() (string, bool) {
	for i, c := range p.b {
		switch {
		case c == '"':
			s := p.b[:i]
			if !utf8.Valid(s) {
				return "", false
			}
			p.b = p.b[i+1:]
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

// base64 reads standard base64 up to the closing quote, as encoding/json
// reads a []byte.
func (p *splitLine) base64() ([]byte, bool) {
	i := bytes.IndexByte(p.b, '"')
	if i < 0 {
		return nil, false
	}
	s := p.b[:i]
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return nil, false
		}
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(out, s)
	if err != nil {
		return nil, false
	}
	p.b = p.b[i+1:]
	return out[:n], true
}
