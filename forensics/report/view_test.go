package report

import (
	"math"
	"testing"
)

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		name string
		n    int64
		want string
	}{
		{"zero", 0, "0 B"},
		{"below a KiB", 1023, "1023 B"},
		{"one KiB", 1024, "1.0 KiB"},
		{"rounded", 1536, "1.5 KiB"},
		{"MiB", 64 << 20, "64.0 MiB"},
		{"GiB", 5<<30 + 1<<29, "5.5 GiB"},
		{"largest", math.MaxInt64, "8.0 EiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := HumanBytes(tc.n); got != tc.want {
				t.Errorf("HumanBytes(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}
