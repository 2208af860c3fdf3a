// Command gen turns the sourced CVE-2024-3094 IOC data (schema iocs/v1) into
// the built-in strata.rules/v1 ruleset. Every rule keeps the source ids of
// the facts it was made from; the sources themselves are copied verbatim.
//
// What is deliberately left out: unlabeled_related_hashes (hashes nobody
// tied to a file, not proof of anything), memory-only indicators (the ED448
// key, the kill-switch string), the script strings of decoded stages (they
// occur in any write-up or YARA file). Every package entry of the IOC data
// becomes part of a package rule: an ecosystem the generator does not know
// is an error, never silently dropped.
package main

import (
	"flag"
	"fmt"
	"os"
)

// Version of the generated ruleset; bump it whenever the output changes.
const rulesetVersion = "2026.11.1"

func main() {
	in := flag.String("in", "", "IOC JSON (iocs/v1)")
	out := flag.String("out", "", "rule file to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	res, err := generate(b)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return os.WriteFile(out, res, 0o644)
}
