package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// resultVersion changes whenever LayerResult's meaning changes, so cached
// layer results from an older strata are not reused.
const resultVersion = 2 // 2: pacman, conda, Nix, Homebrew and Gentoo stores

// Fingerprint identifies what a LayerResult depends on besides the layer's
// bytes: the ruleset and the options. Layer results cached under one
// fingerprint are valid for every engine with the same fingerprint.
func (e *Engine) Fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "strata.detect/%d\nruleset %s\ndeep %v\nmaxdb %d\n", resultVersion, e.rs.Info().SHA256, e.opts.Deep, e.maxDB())
	return hex.EncodeToString(h.Sum(nil))
}
