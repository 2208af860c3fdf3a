package pkgdb

import (
	"errors"
	"testing"
)

func TestCompare(t *testing.T) {
	tests := []struct {
		name string
		eco  Ecosystem
		a, b string
		want int
	}{
		{"dpkg equal", Dpkg, "5.6.1-1", "5.6.1-1", 0},
		{"dpkg revision", Dpkg, "5.6.0-0.1", "5.6.0-0.2", -1},
		{"dpkg alpha before release", Dpkg, "5.5.1alpha-0.1", "5.6.0-0.1", -1},
		{"dpkg +really after", Dpkg, "5.6.1+really5.4.5-1", "5.6.1-1", 1},
		{"dpkg epoch wins", Dpkg, "1:5.4.5-0.3", "5.6.1-1", 1},
		{"dpkg epoch 0 is none", Dpkg, "0:5.6.0-0.1", "5.6.0-0.1", 0},
		{"dpkg tilde before", Dpkg, "5.6.0~rc1-1", "5.6.0-1", -1},
		{"dpkg tilde before nothing", Dpkg, "5.6.0-1~bpo1", "5.6.0-1", -1},
		{"dpkg binNMU after", Dpkg, "5.6.1-1+b1", "5.6.1-1", 1},
		{"rpm release", RPM, "5.6.0-1.fc40", "5.6.0-2.fc40", -1},
		{"rpm version", RPM, "5.4.6-3.fc40", "5.6.0-1.fc40", -1},
		{"rpm epoch", RPM, "1:5.4.6-3.fc40", "5.6.0-1.fc40", 1},
		{"rpm epoch 0 is none", RPM, "0:5.6.0-1.fc40", "5.6.0-1.fc40", 0},
		{"rpm no release matches any", RPM, "5.6.1", "5.6.1-1.1", 0},
		{"rpm revertto after 5.6.1", RPM, "5.6.1.revertto5.4-1.1", "5.6.1-1.1", 1},
		{"rpm revertto after 5.6.1 no release", RPM, "5.6.1.revertto5.4-1.1", "5.6.1", 1},
		{"rpm tilde before", RPM, "5.6.0~beta-1", "5.6.0-1", -1},
		{"rpm caret after", RPM, "5.6.0^git1-1", "5.6.0-1", 1},
		{"apk revision", APK, "5.6.1-r1", "5.6.1-r2", -1},
		{"apk equal", APK, "5.6.1-r0", "5.6.1-r0", 0},
		{"apk rc before", APK, "5.6.1_rc1-r0", "5.6.1-r0", -1},
		{"apk version", APK, "5.4.6-r0", "5.6.1-r0", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Compare(tt.eco, tt.a, tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Compare(%s, %q, %q) = %d, want %d", tt.eco, tt.a, tt.b, got, tt.want)
			}
			back, err := Compare(tt.eco, tt.b, tt.a)
			if err != nil {
				t.Fatal(err)
			}
			if back != -tt.want {
				t.Errorf("Compare(%s, %q, %q) = %d, want %d", tt.eco, tt.b, tt.a, back, -tt.want)
			}
		})
	}
}

func TestCompareErrors(t *testing.T) {
	tests := []struct {
		name string
		eco  Ecosystem
		a    string
		want error
	}{
		{"dpkg empty", Dpkg, "", ErrVersion},
		{"dpkg bad epoch", Dpkg, "x:1.0", ErrVersion},
		{"dpkg starts with letter", Dpkg, "abc", ErrVersion},
		{"rpm empty", RPM, "", ErrVersion},
		{"rpm bad epoch", RPM, "x:1.0-1", ErrVersion},
		{"rpm negative epoch", RPM, "-1:1.0-1", ErrVersion},
		{"rpm empty version", RPM, "1:-1", ErrVersion},
		{"rpm padded", RPM, " 1.0", ErrVersion},
		{"apk garbage", APK, "not a version!", ErrVersion},
		{"unknown ecosystem", "winget", "1.0", ErrEcosystem},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Compare(tt.eco, tt.a, "1.0"); !errors.Is(err, tt.want) {
				t.Errorf("Compare(%q) err = %v, want %v", tt.a, err, tt.want)
			}
			if _, err := Compare(tt.eco, "1.0", tt.a); !errors.Is(err, tt.want) {
				t.Errorf("Compare(1.0, %q) err = %v, want %v", tt.a, err, tt.want)
			}
		})
	}
}

func TestRangeContains(t *testing.T) {
	debian := Range{Introduced: "5.5.1alpha-0.1", LastAffected: "5.6.1-1"}
	// Fedora's fix was a downgrade, so the affected builds are named.
	fedora := Range{Versions: []string{"5.6.0-1.fc40", "5.6.0-2.fc40"}}
	fedoraRange := Range{Introduced: "5.6.0", LastAffected: "5.6.1"}
	suseFixed := Range{Introduced: "5.6.0", Fixed: "5.6.1.revertto5.4"}
	suseLast := Range{Introduced: "5.6.0", LastAffected: "5.6.1"}
	alpine := Range{Introduced: "5.6.1-r0", Fixed: "5.6.1-r2"}
	exact := Range{Versions: []string{"0:5.6.0-0.1", "5.6.0-0.2"}}
	tests := []struct {
		name string
		eco  Ecosystem
		r    Range
		v    string
		want bool
	}{
		{"debian 5.6.0-0.1", Dpkg, debian, "5.6.0-0.1", true},
		{"debian 5.6.0-0.2", Dpkg, debian, "5.6.0-0.2", true},
		{"debian 5.6.1-1", Dpkg, debian, "5.6.1-1", true},
		{"debian lower bound itself", Dpkg, debian, "5.5.1alpha-0.1", true},
		{"debian fix +really", Dpkg, debian, "5.6.1+really5.4.5-1", false},
		{"debian older 5.4.5-0.3", Dpkg, debian, "5.4.5-0.3", false},
		{"debian epoch lifts old upstream above", Dpkg, debian, "1:5.4.5-0.3", false},
		{"debian tilde just below 5.6.1-1", Dpkg, debian, "5.6.1-1~exp1", true},
		{"debian tilde just below the lower bound", Dpkg, debian, "5.5.1alpha-0.1~", false},
		{"debian binNMU of 5.6.1-1", Dpkg, debian, "5.6.1-1+b1", false},
		{"fedora 5.6.0-1.fc40 listed", RPM, fedora, "5.6.0-1.fc40", true},
		{"fedora 5.6.0-2.fc40 listed", RPM, fedora, "5.6.0-2.fc40", true},
		{"fedora 5.4.6-3.fc40 below", RPM, fedora, "5.4.6-3.fc40", false},
		{"fedora range 5.6.0-1.fc40", RPM, fedoraRange, "5.6.0-1.fc40", true},
		{"fedora range 5.6.0-2.fc40", RPM, fedoraRange, "5.6.0-2.fc40", true},
		{"fedora range 5.6.1-1.fc41", RPM, fedoraRange, "5.6.1-1.fc41", true},
		{"fedora range 5.4.6-3.fc40", RPM, fedoraRange, "5.4.6-3.fc40", false},
		{"fedora range epoch 1", RPM, fedoraRange, "1:5.4.6-3.fc40", false},
		{"suse fixed 5.6.1-1.1", RPM, suseFixed, "5.6.1-1.1", true},
		{"suse fixed 5.6.0-1.1", RPM, suseFixed, "5.6.0-1.1", true},
		{"suse fixed revert", RPM, suseFixed, "5.6.1.revertto5.4-1.1", false},
		{"suse last 5.6.1-1.1", RPM, suseLast, "5.6.1-1.1", true},
		{"suse last revert", RPM, suseLast, "5.6.1.revertto5.4-1.1", false},
		{"alpine r0", APK, alpine, "5.6.1-r0", true},
		{"alpine r1", APK, alpine, "5.6.1-r1", true},
		{"alpine r2 fixed", APK, alpine, "5.6.1-r2", false},
		{"alpine 5.4.6", APK, alpine, "5.4.6-r0", false},
		{"exact epoch 0 equals none", Dpkg, exact, "5.6.0-0.1", true},
		{"exact epoch 0 written", Dpkg, exact, "0:5.6.0-0.2", true},
		{"exact epoch 1 differs", Dpkg, exact, "1:5.6.0-0.1", false},
		{"exact only, others out", Dpkg, exact, "5.6.1-1", false},
		{"empty range covers nothing", Dpkg, Range{}, "5.6.1-1", false},
		{"introduced 0 is open", Dpkg, Range{Introduced: "0", Fixed: "5.6.1+really5.4.5-1"}, "0~1", true},
		{"only fixed", APK, Range{Fixed: "5.6.1-r2"}, "1.0-r0", true},
		{"only introduced", APK, Range{Introduced: "5.6.1-r0"}, "9.9-r0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.r.Contains(tt.eco, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("%+v.Contains(%s, %q) = %v, want %v", tt.r, tt.eco, tt.v, got, tt.want)
			}
		})
	}
}

func TestRangeContainsErrors(t *testing.T) {
	tests := []struct {
		name string
		r    Range
		v    string
	}{
		{"bad v with bounds", Range{Introduced: "5.6.0-0.1", Fixed: "5.6.1+really5.4.5-1"}, "x:y"},
		{"bad v with only versions", Range{Versions: []string{"5.6.0-0.1"}}, "x:y"},
		{"bad v with empty range", Range{}, "x:y"},
		{"bad v with introduced 0", Range{Introduced: "0"}, "x:y"},
		{"bad introduced", Range{Introduced: "x:y"}, "5.6.0-0.1"},
		{"bad fixed", Range{Fixed: "x:y"}, "5.6.0-0.1"},
		{"bad last_affected", Range{LastAffected: "x:y"}, "5.6.0-0.1"},
		{"bad listed version", Range{Versions: []string{"x:y"}}, "5.6.0-0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.r.Contains(Dpkg, tt.v); !errors.Is(err, ErrVersion) {
				t.Errorf("err = %v, want ErrVersion", err)
			}
		})
	}
}
