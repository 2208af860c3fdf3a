package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// evilArchive is a docker save whose names, tag and build command carry
// terminal control sequences: a title change, a screen clear, colours.
func evilArchive(t *testing.T) string {
	t.Helper()
	tarOf := func(members map[string][]byte, order []string) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, name := range order {
			if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(members[name])), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
				t.Fatal(err)
			}
			tw.Write(members[name])
		}
		tw.Close()
		return b.Bytes()
	}
	evilName := "etc/evil\x1b]0;PWNED\x07\x1b[31mred\x1b[0m"
	layer := tarOf(map[string][]byte{evilName: []byte("x\n"), "etc/link": nil}, []string{evilName, "etc/link"})
	sum := sha256.Sum256(layer)
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux\x1b[2J",
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(sum[:])}},
		"history": []map[string]string{{"created_by": "/bin/sh -c echo \x1b[2J\x1b]0;TITLE\x07 hi"}},
	})
	csum := sha256.Sum256(cfg)
	cfgName := hex.EncodeToString(csum[:]) + ".json"
	man, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"evil/\x1b[31mred:latest"}, "Layers": []string{"l1/layer.tar"}}})
	p := filepath.Join(t.TempDir(), "evil.tar")
	if err := os.WriteFile(p, tarOf(map[string][]byte{cfgName: cfg, "l1/layer.tar": layer, "manifest.json": man}, []string{cfgName, "l1/layer.tar", "manifest.json"}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// No text output lets an image's strings reach the terminal as control
// sequences; they are shown in caret notation instead.
func TestTextOutputIsPrintable(t *testing.T) {
	p := evilArchive(t)
	for _, args := range [][]string{
		{"ls", p},
		{"ls", "--layer", "0", p},
		{"blame", p, "/etc/link"},
		{"inspect", p},
		{"scan", p},
		{"extract", p, "/etc/evil\x1b]0;PWNED\x07\x1b[31mred\x1b[0m", "-o", filepath.Join(t.TempDir(), "out")},
	} {
		t.Run(args[0], func(t *testing.T) {
			var out, errOut bytes.Buffer
			root := NewRootCmd(testBuild)
			root.SetArgs(args)
			root.SetOut(&out)
			root.SetErr(&errOut)
			root.ExecuteContext(context.Background())
			all := out.String() + errOut.String()
			if strings.ContainsRune(all, 0x1b) || strings.ContainsRune(all, 0x07) {
				t.Fatalf("control characters in the output:\n%q", all)
			}
			if out.Len() == 0 {
				t.Fatalf("no output; stderr %q", errOut.String())
			}
		})
	}
}
