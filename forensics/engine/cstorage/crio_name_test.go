package cstorage

import (
	"encoding/json"
	"testing"
)

// A CRI-O container is named namespace/pod/container: from its pod's
// infra container when the store holds it, else from the names CRI-O
// gave it and its sandbox.
func TestKubeName(t *testing.T) {
	const (
		infra = `{"pod-name":"k8s_nginx_shop_6f1c_0","pod-id":"p1","image-name":"registry.k8s.io/pause:3.10","name":"k8s_POD_nginx_shop_6f1c_0","metadata-name":"nginx","uid":"6f1c","namespace":"shop","created-at":1711929600,"pod":true}`
		web   = `{"pod-name":"k8s_nginx_shop_6f1c_0","pod-id":"p1","image-name":"app:1","name":"k8s_web_nginx_shop_6f1c_0","metadata-name":"web","created-at":1711929660}`
	)
	meta := func(s string) *containerMeta {
		var m containerMeta
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return &m
	}
	pods := map[string]*containerMeta{"p1": meta(infra)}
	tests := []struct {
		name string
		meta string
		pods map[string]*containerMeta
		want string
	}{
		{"infra", infra, pods, "shop/nginx/POD"},
		{"container", web, pods, "shop/nginx/web"},
		// The infra container gone: the sandbox's name says the pod.
		{"no infra", web, nil, "shop/nginx/web"},
		{"no metadata-name", `{"pod-name":"k8s_nginx_shop_6f1c_0","pod-id":"p1","name":"k8s_web_nginx_shop_6f1c_1"}`, nil, "shop/nginx/web"},
		// Names CRI-O did not make: the pod's name as recorded.
		{"other names", `{"pod-name":"mypod","pod-id":"p2","name":"c","metadata-name":"c"}`, nil, "mypod/c"},
		{"a name with a slash", `{"pod-name":"k8s_a/b_ns_u_0","pod-id":"p2","name":"x","metadata-name":"c"}`, nil, "k8s_a/b_ns_u_0/c"},
		{"nothing", `{"pod-name":"k8s_nginx_shop_6f1c_0","pod-id":"p3","name":"x"}`, nil, ""},
	}
	for _, tc := range tests {
		m := meta(tc.meta)
		if !m.isCRIO() {
			t.Errorf("%s: not CRI-O's", tc.name)
		}
		if got := m.kubeName(tc.pods); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if podman := meta(`{"image-name":"localhost/app:1","image-id":"abc","name":"web","created-at":1711929600}`); podman.isCRIO() {
		t.Error("podman's metadata read as CRI-O's")
	}
}
