package crio

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path"
	"testing"
)

// DockerArchive reads the first image of a docker save archive (a
// fixture of fixtures/testdata) whose layers are uncompressed: its config
// and its layer tars, base first.
func DockerArchive(t testing.TB, file string) (config []byte, layers [][]byte) {
	t.Helper()
	members := readTar(t, file)
	var manifest []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(members["manifest.json"], &manifest); err != nil || len(manifest) == 0 {
		t.Fatalf("%s: manifest.json: %v", file, err)
	}
	config = members[manifest[0].Config]
	for _, l := range manifest[0].Layers {
		layers = append(layers, members[l])
	}
	return config, layers
}

// FileIn is the content of the file p in the topmost layer holding it of
// the first image of the docker save archive file.
func FileIn(t testing.TB, file, p string) []byte {
	t.Helper()
	_, layers := DockerArchive(t, file)
	for i := len(layers) - 1; i >= 0; i-- {
		tr := tar.NewReader(bytes.NewReader(layers[i]))
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			if path.Clean("/"+h.Name) == path.Clean("/"+p) && h.Typeflag == tar.TypeReg {
				data, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				return data
			}
		}
	}
	t.Fatalf("%s: no layer holds %s", file, p)
	return nil
}

func readTar(t testing.TB, file string) map[string][]byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out[path.Clean(h.Name)] = data
		}
	}
}
