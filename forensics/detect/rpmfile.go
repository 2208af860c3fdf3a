package detect

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/strata-forensics/strata/forensics/compress"
)

// rpm header tags and types read here (rpm's lib/rpmtag.h).
const (
	rpmTagPayloadCompressor = 1125
	rpmTypeString           = 6
)

// rpmFile reads an rpm package as a stream: the lead, the signature
// header, the main header (for the payload compressor it names) and the
// cpio payload.
type rpmFile struct {
	br  *bufio.Reader
	off int64
}

func (f *rpmFile) fail(format string, args ...any) error {
	return &ArchiveError{Format: "rpm", Offset: f.off, Err: formatErr(format, args...)}
}

func (f *rpmFile) readFull(b []byte) error {
	n, err := io.ReadFull(f.br, b)
	f.off += int64(n)
	return err
}

func (f *rpmFile) skip(n int64) error {
	m, err := io.CopyN(io.Discard, f.br, n)
	f.off += m
	return err
}

// header reads one header structure; with want, it returns the string
// value of tag want (payload compressors are short words: "xz", "lzma").
func (f *rpmFile) header(name string, pad bool, want uint32) (string, error) {
	var intro [16]byte
	if err := f.readFull(intro[:]); err != nil {
		return "", f.fail("truncated %s header: %v", name, err)
	}
	if intro[0] != 0x8e || intro[1] != 0xad || intro[2] != 0xe8 {
		return "", f.fail("bad %s header magic", name)
	}
	count := int64(binary.BigEndian.Uint32(intro[8:12]))
	data := int64(binary.BigEndian.Uint32(intro[12:16]))
	if 16*count+data > maxRPMHeader {
		return "", f.fail("%s header of %d bytes", name, 16*count+data)
	}
	valueAt := int64(-1)
	var entry [16]byte
	for range count {
		if err := f.readFull(entry[:]); err != nil {
			return "", f.fail("truncated %s header index: %v", name, err)
		}
		if want != 0 && binary.BigEndian.Uint32(entry[0:4]) == want && binary.BigEndian.Uint32(entry[4:8]) == rpmTypeString {
			valueAt = int64(binary.BigEndian.Uint32(entry[8:12]))
		}
	}
	size := data
	if pad {
		size += (8 - (16+16*count+data)%8) % 8 // the signature header is padded to 8 bytes
	}
	value := ""
	if valueAt >= 0 && valueAt < data {
		if err := f.skip(valueAt); err != nil {
			return "", f.fail("truncated %s header: %v", name, err)
		}
		v := make([]byte, min(32, data-valueAt))
		if err := f.readFull(v); err != nil {
			return "", f.fail("truncated %s header: %v", name, err)
		}
		size -= valueAt + int64(len(v))
		if i := bytes.IndexByte(v, 0); i >= 0 {
			v = v[:i]
		}
		value = string(v)
	}
	if err := f.skip(size); err != nil {
		return "", f.fail("truncated %s header: %v", name, err)
	}
	return value, nil
}

// walkRPM skips the lead and the two headers and reads the cpio payload,
// whatever compresses it: the bytes say for gzip, bzip2, xz and zstd; the
// main header's payload compressor for the classic LZMA of old rpms
// (Fedora 10 to 11, RHEL 6 era tools), which has no magic number.
func (ns *nestedScan) walkRPM(where string, r io.Reader, depth int) error {
	f := &rpmFile{br: bufio.NewReader(r)}
	var lead [96]byte
	if err := f.readFull(lead[:]); err != nil {
		return f.fail("truncated lead: %v", err)
	}
	if lead[0] != 0xed || lead[1] != 0xab || lead[2] != 0xee || lead[3] != 0xdb {
		return f.fail("no rpm lead magic")
	}
	if _, err := f.header("signature", true, 0); err != nil {
		return err
	}
	compressor, err := f.header("main", false, rpmTagPayloadCompressor)
	if err != nil {
		return err
	}
	head, err := f.br.Peek(16)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return f.fail("payload: %v", err)
	}
	format := sniffCompression(head)
	if format == compress.None && compressor == "lzma" {
		format = compress.LZMA
	}
	var payload io.Reader = f.br
	var rs *ratioStop
	if format != compress.None {
		dec, stop, release, err := ns.decoder(where, format, f.br)
		if err != nil {
			return fmt.Errorf("%s payload: %w", format, err)
		}
		if dec == nil {
			return nil // over the memory bound, recorded
		}
		defer release()
		payload, rs = dec, stop
	}
	cr := newCpioReader(payload)
	for {
		h, err := cr.Next()
		if err == io.EOF {
			return nil
		}
		if ns.ratioOf(err, rs, where) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s payload: %w", orNone(format), err)
		}
		if !h.Regular || h.Size == 0 {
			continue
		}
		err = ns.member(where, memberName(h.Name), cr, h.Size, depth)
		if ns.ratioOf(err, rs, where) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
