package detect

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/rules"
)

// TestImageDrift: a finding on bytes planted in a layer's folder on the
// host (in no layer's tar) is present unless a later layer puts something
// over its path, says where its bytes lie, and takes its context like any
// present file.
func TestImageDrift(t *testing.T) {
	lib := backdooredLib(t, 0x47f0)
	systemdSSHD := sshd(t, "libsystemd.so.0", "libcrypto.so.3", "libc.so.6")
	rs, err := rules.Load(filepath.Join("testdata", "test.rules.json"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		layers [][]tfile
		at     string // where the lib is planted, in layer 0's folder
		want   string
		why    []string
	}{
		{"planted, nothing above", [][]tfile{{file("/usr/sbin/sshd", systemdSSHD)}, {file("/etc/app.conf", []byte("x"))}}, libPath,
			"xz-backdoor-get-cpuid-prologue signature L0 " + libPath + " present critical",
			[]string{"planted in layer 0's folder on the host after the pull", "digest does not cover", "every container on the layer sees them", "critical: /usr/sbin/sshd"}},
		{"planted, a later layer writes the path", [][]tfile{{file("/usr/sbin/sshd", systemdSSHD)}, {file(libPath, cleanLib(t))}}, libPath,
			"xz-backdoor-get-cpuid-prologue signature L0 " + libPath + " deleted high",
			[]string{"layer 1 of this image covers the path"}},
		{"planted, a later layer deletes its folder", [][]tfile{{file("/usr/sbin/sshd", systemdSSHD), file("/opt/x/readme", []byte("x"))}, {whiteout("/opt/x")}}, "/opt/x/liblzma.so.5",
			"xz-backdoor-get-cpuid-prologue signature L0 /opt/x/liblzma.so.5 deleted high",
			[]string{"layer 1 of this image covers the path"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := &image.Image{Names: []string{"test:drift"}}
			results, tr := scanImage(t, e, img, tc.layers)
			// What a scan does with a file of layer 0's folder that its
			// tar does not hold: the detectors read it, and its findings
			// join the layer's, marked.
			ls := e.NewLayerScan()
			blob := tarOf(t, []tfile{file(tc.at, lib)})
			if _, err := layer.Walk(context.Background(), bytes.NewReader(blob), layer.Options{Sinks: ls.Sinks}); err != nil {
				t.Fatal(err)
			}
			for _, f := range ls.Result().Findings {
				f.Drift = "planted"
				results[0].Findings = append(results[0].Findings, f)
			}
			var got []string
			for _, f := range e.Image(ImageInput{Image: img, Tree: tr, Layers: results}).Findings {
				got = append(got, line(f))
				if f.Drift != "planted" {
					t.Errorf("drift %q", f.Drift)
				}
				for _, w := range tc.why {
					if !strings.Contains(f.Message, w) {
						t.Errorf("message %q does not say %q", f.Message, w)
					}
				}
				if strings.Contains(f.Message, "ship") {
					t.Errorf("message %q says the bytes ship in a blob", f.Message)
				}
			}
			if strings.Join(got, "\n") != tc.want {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), tc.want)
			}
		})
	}
}
