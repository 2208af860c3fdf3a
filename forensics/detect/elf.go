package detect

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"strings"

	"github.com/strata-forensics/strata/forensics/layer"
)

// sshdPath is the binary the backdoor targets: it only acts when argv[0]
// is /usr/sbin/sshd.
const sshdPath = "/usr/sbin/sshd"

// maxELFFacts bounds the bytes held to read one ELF file's dynamic section
// (debug/elf needs the section headers at the end); sshd is about 1 MiB.
const maxELFFacts = 32 << 20

// Fact keys, followed by the file's path.
const (
	factNeeded  = "elf-needed:"
	factInterp  = "elf-interp:"
	factMachine = "elf-machine:"
)

// elfFactsSink reads DT_NEEDED, the interpreter and the machine of one ELF
// file, holding at most maxELFFacts bytes.
type elfFactsSink struct {
	s    *LayerScan
	path string
	buf  bytes.Buffer
	over bool
}

func (f *elfFactsSink) Write(p []byte) (int, error) {
	if f.over {
		return len(p), nil
	}
	if f.buf.Len()+len(p) > maxELFFacts {
		f.over = true
		f.buf = bytes.Buffer{}
		return len(p), nil
	}
	return f.buf.Write(p)
}

func (f *elfFactsSink) Done(e *layer.Entry, err error) {
	if err != nil {
		return
	}
	if f.over {
		f.s.errorf("%s: larger than %d bytes; its ELF dynamic section was not read", e.Path, maxELFFacts)
		return
	}
	facts, ferr := readELFFacts(f.buf.Bytes())
	if ferr != nil {
		f.s.errorf("%s: %v", e.Path, ferr)
		return
	}
	f.s.res.Facts[factNeeded+e.Path] = facts.needed
	f.s.res.Facts[factMachine+e.Path] = []string{facts.machine}
	if facts.interp != "" {
		f.s.res.Facts[factInterp+e.Path] = []string{facts.interp}
	}
}

type elfFacts struct {
	needed  []string
	interp  string
	machine string
}

func readELFFacts(b []byte) (facts elfFacts, err error) {
	// debug/elf is hardened by fuzzing, but a crafted file must not take
	// the whole scan down with it.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed ELF: %v", r)
		}
	}()
	ef, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return facts, fmt.Errorf("not a readable ELF file: %w", err)
	}
	defer ef.Close()
	facts.machine = ef.Machine.String()
	facts.needed, err = ef.DynString(elf.DT_NEEDED)
	if err != nil {
		return facts, fmt.Errorf("ELF dynamic section: %w", err)
	}
	if facts.needed == nil {
		facts.needed = []string{}
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			s, err := io.ReadAll(io.LimitReader(p.Open(), 4096))
			if err != nil {
				return facts, fmt.Errorf("ELF interpreter: %w", err)
			}
			facts.interp = strings.TrimRight(string(s), "\x00")
		}
	}
	return facts, nil
}
