package engine

import "testing"

// FuzzParseOverride: whatever an xattr holds, it is read to a mode of a
// tar header's bits, or refused.
func FuzzParseOverride(f *testing.F) {
	for _, v := range []string{"0:0:0644", "0:0:1777:dir", "1000:1000:04755:file", "0:5:0620:char-136-0", "0:0:0644:door", "::", ""} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		st, err := parseOverride(v)
		if err != nil {
			return
		}
		if st.mode < 0 || st.mode > 0o7777 || st.modeBits != 0o777 && st.modeBits != 0o7777 || st.uid < 0 || st.gid < 0 {
			t.Errorf("parseOverride(%q) = %+v", v, st)
		}
	})
}
