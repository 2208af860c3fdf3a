package pkgdb

import "io"

// parseAPK reads apk's installed database: paragraphs of "K:value" lines
// separated by blank lines, one paragraph per package. P is the name, V the
// version, A the architecture and o the origin (source package); other keys
// (files, checksums, dependencies) are skipped without being kept.
func parseAPK(file string, r io.Reader) ([]Package, error) {
	var (
		pkgs   []Package
		cur    Package
		fields int
		start  int64
		probs  = problems{file: file}
		ls     = newLineScanner(r)
	)
	flush := func() {
		if fields > 0 {
			if cur.Name == "" {
				probs.add(start, "paragraph without a P: line")
			} else {
				if cur.Source == "" {
					cur.Source = cur.Name
				}
				cur.SourceVersion = cur.Version
				cur.Ecosystem = APK
				pkgs = append(pkgs, cur)
			}
		}
		cur, fields = Package{}, 0
	}
	for ls.Scan() {
		line := ls.Line()
		if isBlank(line) {
			flush()
			continue
		}
		if fields == 0 {
			start = ls.start
		}
		fields++
		if len(line) < 2 || line[1] != ':' {
			probs.add(ls.start, "line is not \"K:value\"")
			continue
		}
		v := string(line[2:])
		switch line[0] {
		case 'P':
			cur.Name = v
		case 'V':
			cur.Version = v
		case 'A':
			cur.Arch = v
		case 'o':
			cur.Source = v
		}
	}
	if err := ls.Err(file); err != nil {
		// The paragraph reading stopped in may be cut short: leave it out.
		return pkgs, err
	}
	flush()
	return pkgs, probs.err()
}
