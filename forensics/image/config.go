package image

import (
	"encoding/json"
	"strings"
	"time"
)

// configFile is the part of an image config (OCI or Docker) strata reads.
// Created is kept as a string so one odd timestamp does not make the whole
// config unreadable; diff_ids are strings so a malformed one is reported on
// its own.
type configFile struct {
	Created      string `json:"created"`
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant"`
	Config       *struct {
		Entrypoint strSlice `json:"Entrypoint"`
		Cmd        strSlice `json:"Cmd"`
	} `json:"config"`
	RootFS *struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []struct {
		CreatedBy  string `json:"created_by"`
		EmptyLayer bool   `json:"empty_layer"`
	} `json:"history"`
}

// v1Config is a legacy docker save layer's <id>/json.
type v1Config struct {
	ContainerConfig *struct {
		Cmd strSlice `json:"Cmd"`
	} `json:"container_config"`
}

// strSlice accepts a JSON array of strings or a single string, as Docker's
// strslice does for Entrypoint and Cmd written by old engines.
type strSlice []string

func (s *strSlice) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = strSlice{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

func (c *configFile) platform() string {
	return platformString(c.OS, c.Architecture, c.Variant)
}

func platformString(os, arch, variant string) string {
	if os == "" || arch == "" {
		return ""
	}
	p := os + "/" + arch
	if variant != "" {
		p += "/" + variant
	}
	return p
}

// apply copies the config's description onto img.
func (c *configFile) apply(img *Image) {
	if t, err := time.Parse(time.RFC3339Nano, c.Created); err == nil {
		t = t.UTC()
		img.Created = &t
	}
	if c.Config != nil {
		img.Entrypoint = c.Config.Entrypoint
		img.Cmd = c.Config.Cmd
	}
	if img.Platform == "" {
		img.Platform = c.platform()
	}
}

// createdBy lists the history's created_by of each non-empty layer, in
// order: empty_layer entries (ENV, CMD…) made no layer.
func (c *configFile) createdBy() []string {
	var out []string
	for _, h := range c.History {
		if !h.EmptyLayer {
			out = append(out, h.CreatedBy)
		}
	}
	return out
}

func (c *configFile) diffIDs() []string {
	if c.RootFS == nil {
		return nil
	}
	return c.RootFS.DiffIDs
}

func (v *v1Config) createdBy() string {
	if v.ContainerConfig == nil {
		return ""
	}
	return strings.Join(v.ContainerConfig.Cmd, " ")
}
