package pkgdb

// go-rpmdb v0.1.1 trusts its input. Its BerkeleyDB and ndb readers run in a
// goroutine of their own, where a panic cannot be recovered and ends the
// process: offsets taken from the file index pages without bounds checks, a
// non-overflow page inside an overflow chain makes it loop forever, a chain
// that cycles grows without end, an ndb blob length allocates up to 4 GiB
// and a bad ndb slot is printed to stdout. Its header parser allocates from
// an untrusted count and walks an unterminated string array once per
// element (four billion times for a crafted count). So every database is
// checked here first, with the same arithmetic go-rpmdb will use, and only
// structures it reads safely are handed to it. The checks also count the
// package headers, so a database go-rpmdb silently reads short is caught.

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// headerMaxBytes is rpm's own limit on one header (lib/header.c).
const headerMaxBytes = 256 << 20

var (
	sqliteMagic = []byte("SQLite format 3\x00")
	ndbMagic    = binary.LittleEndian.Uint32([]byte("RpmP"))
	ndbSlot     = binary.LittleEndian.Uint32([]byte("Slot"))
	ndbBlob     = binary.LittleEndian.Uint32([]byte("BlbS"))
)

const (
	bdbHashMagic   = 0x00061561
	bdbHashMagicBE = 0x61150600
	bdbPageHeader  = 26
	bdbHashMeta    = 8  // hash metadata page
	bdbHashOld     = 2  // unsorted hash page, BerkeleyDB before 4.6
	bdbHash        = 13 // sorted hash page
	bdbOverflow    = 7
	bdbHOffPage    = 3 // hash item stored on overflow pages
	bdbHOffSize    = 12
)

// rpmFormat is one of rpm's on-disk database formats.
type rpmFormat int

const (
	rpmBDB rpmFormat = iota
	rpmSQLite
	rpmNDB
)

// checkRPMDB picks the format the way rpmdb.Open does (sqlite magic, then a
// valid ndb header, else BerkeleyDB), checks it and returns the format and
// how many package headers the database holds. size is the file's length,
// walSize that of the write-ahead log beside it (0 when there is none),
// which sqlite reads as part of the database.
func checkRPMDB(f io.ReaderAt, path string, size, walSize int64) (rpmFormat, int, error) {
	var head [32]byte
	n, err := f.ReadAt(head[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, 0, fmt.Errorf("reading header: %w", err)
	}
	if n < 16 {
		return 0, 0, &FormatError{Err: fmt.Errorf("%w: %d bytes", ErrNotRPMDB, n)}
	}
	if bytes.Equal(head[:16], sqliteMagic) {
		count, err := checkSQLite(path, size+walSize)
		return rpmSQLite, count, err
	}
	if n == 32 {
		le := binary.LittleEndian
		if le.Uint32(head[0:]) == ndbMagic && le.Uint32(head[4:]) == 0 && le.Uint32(head[12:]) != 0 {
			count, err := checkNDB(f, size, le.Uint32(head[12:]))
			return rpmNDB, count, err
		}
	}
	count, err := checkBDB(f, size)
	return rpmBDB, count, err
}

// checkSQLite accepts a Packages table whose blob column is stored data.
// go-rpmdb runs "SELECT blob FROM Packages": on a view, a virtual table or a
// generated column that query would compute whatever the image's author
// wrote, forever if they liked.
func checkSQLite(path string, size int64) (int, error) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return 0, fmt.Errorf("%w: sqlite: %v", ErrMalformed, err)
	}
	defer db.Close()
	var typ, ddl string
	err = db.QueryRow(`SELECT type, coalesce(sql, '') FROM sqlite_master
		WHERE name = 'Packages' COLLATE NOCASE AND type IN ('table', 'view')`).Scan(&typ, &ddl)
	if err != nil {
		return 0, fmt.Errorf("%w: sqlite: no Packages table: %v", ErrMalformed, err)
	}
	if typ != "table" || strings.HasPrefix(strings.ToUpper(strings.TrimSpace(ddl)), "CREATE VIRTUAL") {
		return 0, fmt.Errorf("%w: sqlite: Packages is a %s, not a stored table", ErrMalformed, typ)
	}
	if err := checkBlobColumn(db); err != nil {
		return 0, err
	}
	rows, err := db.Query(`SELECT blob FROM Packages`)
	if err != nil {
		return 0, fmt.Errorf("%w: sqlite: %v", ErrMalformed, err)
	}
	defer rows.Close()
	count, total := 0, int64(0)
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return 0, fmt.Errorf("%w: sqlite: row %d: %v", ErrMalformed, count+1, err)
		}
		if b == nil {
			return 0, fmt.Errorf("%w: sqlite: row %d: NULL header", ErrMalformed, count+1)
		}
		total += int64(len(b))
		if total > size {
			return 0, fmt.Errorf("%w: sqlite: headers add up to more than the file", ErrMalformed)
		}
		if err := checkHeader(b); err != nil {
			return 0, fmt.Errorf("sqlite row %d: %w", count+1, err)
		}
		count++
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("%w: sqlite: after %d rows: %v", ErrMalformed, count, err)
	}
	return count, nil
}

func checkBlobColumn(db *sql.DB) error {
	rows, err := db.Query(`SELECT name, hidden FROM pragma_table_xinfo('Packages')`)
	if err != nil {
		return fmt.Errorf("%w: sqlite: Packages columns: %v", ErrMalformed, err)
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		var name string
		var hidden int
		if err := rows.Scan(&name, &hidden); err != nil {
			return fmt.Errorf("%w: sqlite: Packages columns: %v", ErrMalformed, err)
		}
		if strings.EqualFold(name, "blob") {
			if hidden != 0 {
				return fmt.Errorf("%w: sqlite: Packages.blob is generated or hidden", ErrMalformed)
			}
			found = true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%w: sqlite: Packages columns: %v", ErrMalformed, err)
	}
	if !found {
		return fmt.Errorf("%w: sqlite: Packages has no blob column", ErrMalformed)
	}
	return nil
}

// checkNDB walks the slot pages and blob headers as go-rpmdb's ndb reader
// will, with bounds.
func checkNDB(f io.ReaderAt, size int64, npages uint32) (int, error) {
	le := binary.LittleEndian
	if npages > 2048 {
		return 0, &FormatError{Offset: 12, Err: fmt.Errorf("%w: ndb: %d slot pages", ErrMalformed, npages)}
	}
	slotsEnd := int64(npages) * 4096
	if slotsEnd > size {
		return 0, &FormatError{Offset: size, Err: fmt.Errorf("%w: ndb: %d slot pages run past the end", ErrMalformed, npages)}
	}
	slots := make([]byte, slotsEnd-32)
	if _, err := f.ReadAt(slots, 32); err != nil {
		return 0, fmt.Errorf("ndb slots: %w", err)
	}
	count, total := 0, int64(0)
	var bh [16]byte
	for i := 0; i+16 <= len(slots); i += 16 {
		s := slots[i : i+16]
		at := int64(32 + i)
		if le.Uint32(s[0:]) != ndbSlot {
			return 0, &FormatError{Offset: at, Err: fmt.Errorf("%w: ndb: bad slot magic", ErrMalformed)}
		}
		pkg := le.Uint32(s[4:])
		if pkg == 0 {
			continue
		}
		off := int64(le.Uint32(s[8:])) * 16
		if off+16 > size {
			return 0, &FormatError{Offset: at, Err: fmt.Errorf("%w: ndb: blob of package %d past the end", ErrMalformed, pkg)}
		}
		if _, err := f.ReadAt(bh[:], off); err != nil {
			return 0, fmt.Errorf("ndb blob header at %d: %w", off, err)
		}
		if le.Uint32(bh[0:]) != ndbBlob || le.Uint32(bh[4:]) != pkg {
			return 0, &FormatError{Offset: off, Err: fmt.Errorf("%w: ndb: blob header does not match slot of package %d", ErrMalformed, pkg)}
		}
		blen := int64(le.Uint32(bh[12:]))
		total += blen
		if off+16+blen > size || total > size {
			return 0, &FormatError{Offset: off, Err: fmt.Errorf("%w: ndb: blob of %d bytes past the end or overlapping", ErrMalformed, blen)}
		}
		blob := make([]byte, blen)
		if _, err := f.ReadAt(blob, off+16); err != nil {
			return 0, fmt.Errorf("ndb blob at %d: %w", off+16, err)
		}
		if err := checkHeader(blob); err != nil {
			return 0, &FormatError{Offset: off + 16, Err: err}
		}
		count++
	}
	return count, nil
}

// checkBDB walks a BerkeleyDB hash database page by page, as go-rpmdb does,
// and follows every overflow chain, accepting each overflow page once.
func checkBDB(f io.ReaderAt, size int64) (int, error) {
	meta := make([]byte, 512) // go-rpmdb parses the metadata from 512 bytes
	if _, err := f.ReadAt(meta, 0); err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("bdb metadata: %w", err)
	}
	var order binary.ByteOrder = binary.LittleEndian
	magic := order.Uint32(meta[12:])
	if magic == bdbHashMagicBE {
		order = binary.BigEndian
		magic = order.Uint32(meta[12:])
	}
	if magic != bdbHashMagic {
		return 0, &FormatError{Offset: 12, Err: fmt.Errorf("%w: no sqlite, ndb or BerkeleyDB hash magic", ErrNotRPMDB)}
	}
	if meta[24] != 0 {
		return 0, &FormatError{Offset: 24, Err: fmt.Errorf("%w: bdb: encrypted", ErrMalformed)}
	}
	if meta[25] != bdbHashMeta {
		return 0, &FormatError{Offset: 25, Err: fmt.Errorf("%w: bdb: first page is type %d, not hash metadata", ErrMalformed, meta[25])}
	}
	ps := int64(order.Uint32(meta[20:]))
	if ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		return 0, &FormatError{Offset: 20, Err: fmt.Errorf("%w: bdb: page size %d", ErrMalformed, ps)}
	}
	last := int64(order.Uint32(meta[32:]))
	if (last+1)*ps > size {
		return 0, &FormatError{Offset: 32, Err: fmt.Errorf("%w: bdb: last page %d lies past the end (%d bytes)", ErrMalformed, last, size)}
	}
	page := make([]byte, ps)
	ov := make([]byte, ps)
	used := make(map[int64]bool) // overflow pages already part of a chain
	count := 0
	for pn := int64(0); pn <= last; pn++ {
		at := pn * ps
		if _, err := f.ReadAt(page, at); err != nil {
			return 0, fmt.Errorf("bdb page %d: %w", pn, err)
		}
		if t := page[25]; t != bdbHashOld && t != bdbHash {
			continue
		}
		entries := int64(order.Uint16(page[20:]))
		// go-rpmdb computes these bounds in uint16, so they must not wrap.
		if entries%2 != 0 || bdbPageHeader+2*entries > ps || bdbPageHeader+2*entries > 0xffff {
			return 0, &FormatError{Offset: at + 20, Err: fmt.Errorf("%w: bdb: page %d has %d index entries", ErrMalformed, pn, entries)}
		}
		// Entries come in key/value pairs; the values are the odd ones.
		for k := int64(1); k < entries; k += 2 {
			v := int64(order.Uint16(page[bdbPageHeader+2*k:]))
			if v >= ps {
				return 0, &FormatError{Offset: at + bdbPageHeader + 2*k, Err: fmt.Errorf("%w: bdb: item offset %d outside page %d", ErrMalformed, v, pn)}
			}
			if page[v] != bdbHOffPage {
				continue // stored on the page: not a header, go-rpmdb skips it
			}
			if v+bdbHOffSize > ps || v+bdbHOffSize > 0xffff {
				return 0, &FormatError{Offset: at + v, Err: fmt.Errorf("%w: bdb: overflow item past page %d", ErrMalformed, pn)}
			}
			first := order.Uint32(page[v+4:])
			blob, err := bdbChain(f, order, ov, size, first, used)
			if err != nil {
				return 0, &FormatError{Offset: at + v, Err: err}
			}
			if err := checkHeader(blob); err != nil {
				return 0, &FormatError{Offset: at + v, Err: err}
			}
			count++
		}
	}
	return count, nil
}

// bdbChain concatenates one overflow chain as go-rpmdb will: whole pages
// but the last, whose used length is its free-area offset field.
func bdbChain(f io.ReaderAt, order binary.ByteOrder, ov []byte, size int64, first uint32, used map[int64]bool) ([]byte, error) {
	ps := int64(len(ov))
	var out []byte
	for cur := int64(first); cur != 0; {
		off := cur * ps
		// go-rpmdb multiplies in uint32; refusing offsets past 4 GiB keeps
		// both computations on the same page.
		if off+ps > size || off+ps > 1<<32 {
			return nil, fmt.Errorf("%w: bdb: overflow page %d past the end", ErrMalformed, cur)
		}
		if used[cur] {
			return nil, fmt.Errorf("%w: bdb: overflow page %d used twice (cycle or shared chain)", ErrMalformed, cur)
		}
		used[cur] = true
		if _, err := f.ReadAt(ov, off); err != nil {
			return nil, fmt.Errorf("bdb overflow page %d: %w", cur, err)
		}
		if ov[25] != bdbOverflow {
			return nil, fmt.Errorf("%w: bdb: page %d in an overflow chain is type %d", ErrMalformed, cur, ov[25])
		}
		next := int64(order.Uint32(ov[16:]))
		if next == 0 {
			n := int64(order.Uint16(ov[22:]))
			if bdbPageHeader+n > ps || bdbPageHeader+n > 0xffff {
				return nil, fmt.Errorf("%w: bdb: overflow page %d holds %d bytes", ErrMalformed, cur, n)
			}
			out = append(out, ov[bdbPageHeader:bdbPageHeader+n]...)
		} else {
			out = append(out, ov[bdbPageHeader:]...)
		}
		cur = next
	}
	return out, nil
}

// checkHeader checks one rpm header blob where go-rpmdb's parser would
// allocate from or loop on untrusted numbers: the index count and data
// length must fit the blob, and every string entry whose offset go-rpmdb
// accepts must be NUL-terminated inside the data, with string data not
// overlapping (rpm requires entries to follow each other).
func checkHeader(b []byte) error {
	if len(b) < 8 || len(b) >= headerMaxBytes {
		return fmt.Errorf("%w: rpm header of %d bytes", ErrMalformed, len(b))
	}
	be := binary.BigEndian
	il := int64(int32(be.Uint32(b[0:])))
	dl := int64(int32(be.Uint32(b[4:])))
	if il < 1 || dl < 0 || 8+16*il+dl > int64(len(b)) {
		return fmt.Errorf("%w: rpm header index %d entries, data %d bytes, in %d bytes", ErrMalformed, il, dl, len(b))
	}
	dataStart := 8 + 16*il
	dataEnd := dataStart + dl
	walked := int64(0)
	for i := int64(0); i < il; i++ {
		e := b[8+16*i:]
		typ := be.Uint32(e[4:])
		off := int64(int32(be.Uint32(e[8:])))
		count := int64(be.Uint32(e[12:]))
		switch typ {
		case 6: // STRING: exactly one
			if count != 1 {
				continue
			}
		case 8, 9: // STRING_ARRAY, I18NSTRING
		default:
			continue
		}
		if off < 0 || off > dl || dataStart+off >= dataEnd {
			continue // go-rpmdb rejects these before reading strings
		}
		pos := dataStart + off
		for k := int64(0); k < count; k++ {
			idx := bytes.IndexByte(b[pos:dataEnd], 0)
			if idx < 0 {
				return fmt.Errorf("%w: rpm header entry %d: unterminated string", ErrMalformed, i)
			}
			pos += int64(idx) + 1
			walked += int64(idx) + 1
			if walked > dl {
				return fmt.Errorf("%w: rpm header: string entries overlap", ErrMalformed)
			}
		}
	}
	return nil
}
