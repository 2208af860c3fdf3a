package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// resultVersion changes whenever LayerResult's meaning changes, so cached
// layer results from an older strata are not reused.
const resultVersion = 4 // 2: pacman, conda, Nix, Homebrew and Gentoo stores; 3: nesting to any depth; 4: UnreadWAL

// Fingerprint identifies what a LayerResult depends on besides the layer's
// bytes: the ruleset and the options. Layer results cached under one
// fingerprint are valid for every engine with the same fingerprint.
func (e *Engine) Fingerprint() string {
	h := sha256.New()
	l := e.nestLimits()
	fmt.Fprintf(h, "strata.detect/%d\nruleset %s\ndeep %v\nmaxdb %d\nnested depth %d bytes %d memory %d ratio %g\n",
		resultVersion, e.rs.Info().SHA256, e.opts.Deep, e.maxDB(), l.depth, l.bytes, l.memory, l.ratio)
	return hex.EncodeToString(h.Sum(nil))
}
