package main

import (
	"os"
	"os/exec"
	"path/filepath"
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
	goBin := goTool(t)
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
	syms, err := exec.Command(goBin, "tool", "nm", strataBinary(t)).Output()
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

// goTool finds the go command that runs the tests: GOROOT's, else PATH's.
func goTool(t *testing.T) string {
	t.Helper()
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		if p := filepath.Join(strings.TrimSpace(string(out)), "bin", "go"); fileExists(p) {
			return p
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with")
	}
	return p
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
