package pkgdb

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxJSONDepth bounds the nesting of a skipped JSON value; real records
// nest four or five levels.
const maxJSONDepth = 64

var (
	errJSONDepth    = fmt.Errorf("nested deeper than %d levels", maxJSONDepth)
	errJSONTrailing = errors.New("data after the object")
	errJSONNotObj   = errors.New("not a JSON object")
)

// readObject reads one JSON object from r as a stream of tokens: the values
// of the keys in want are decoded into their targets, every other value is
// skipped token by token, so that a record's long lists (conda's files and
// paths_data) are never held whole. A value of the wrong type for its target
// is reported and left out; a syntax error, a nesting deeper than
// maxJSONDepth or anything after the object ends the read.
func readObject(file string, r io.Reader, want map[string]any) error {
	dec := json.NewDecoder(r)
	bad := func(err error) error {
		return &FormatError{File: file, Offset: dec.InputOffset(), Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
	}
	tok, err := dec.Token()
	if err != nil {
		return readErr(file, dec, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return bad(errJSONNotObj)
	}
	var typeErr error
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return readErr(file, dec, err)
		}
		key, _ := tok.(string)
		if target, ok := want[key]; ok {
			if err := dec.Decode(target); err != nil {
				var te *json.UnmarshalTypeError
				if !errors.As(err, &te) {
					return readErr(file, dec, err)
				}
				if typeErr == nil {
					typeErr = bad(fmt.Errorf("key %q: %v", key, err))
				}
			}
			continue
		}
		if err := skipValue(dec); err != nil {
			return readErr(file, dec, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return readErr(file, dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errJSONTrailing
		}
		return readErr(file, dec, err)
	}
	return typeErr
}

// skipValue reads one value, of any size, keeping nothing.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
				if depth > maxJSONDepth {
					return errJSONDepth
				}
			default:
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// readErr wraps an error met while reading JSON: the reader's own failures
// (ErrTooLarge, a broken stream) as they are, the rest as malformed input.
func readErr(file string, dec *json.Decoder, err error) error {
	if errors.Is(err, ErrTooLarge) {
		return &FormatError{File: file, Offset: dec.InputOffset(), Err: err}
	}
	var se *json.SyntaxError
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &se) ||
		errors.Is(err, errJSONDepth) || errors.Is(err, errJSONTrailing) {
		return &FormatError{File: file, Offset: dec.InputOffset(), Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
	}
	return &FormatError{File: file, Offset: dec.InputOffset(), Err: err}
}
