package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNoNetworkCode proves from the dependency graph and from the linked
// binary that strata cannot open a network connection: no HTTP, RPC, TLS or
// mail packages are compiled in, and no dialer, listener, resolver or socket
// call survives linking. (pflag imports package net for IP-valued flags;
// only net's init code is linked, which the symbol check shows.)
func TestNoNetworkCode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	banned := []string{"net/http", "net/rpc", "net/smtp", "crypto/tls", "net/mail", "net/textproto"}
	for _, dep := range strings.Fields(string(out)) {
		for _, b := range banned {
			if dep == b || strings.HasPrefix(dep, b+"/") {
				t.Errorf("the strata binary depends on %s", dep)
			}
		}
	}
	bin := filepath.Join(t.TempDir(), "strata")
	build := exec.Command(goBin, "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	syms, err := exec.Command(goBin, "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	bannedSyms := []string{"net.Dial", "net.(*Dialer)", "net.Listen", "net.(*Resolver)", "net.LookupHost", "net.LookupIP",
		"net.(*netFD)", "syscall.Socket", "syscall.socket", "syscall.Connect", "syscall.connect"}
	for _, line := range strings.Split(string(syms), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || (f[1] != "T" && f[1] != "t") {
			continue
		}
		for _, b := range bannedSyms {
			if strings.HasPrefix(f[2], b) {
				t.Errorf("network code linked into strata: %s", f[2])
			}
		}
	}
}
