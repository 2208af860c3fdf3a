package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/rules"
)

func newRulesCmd() *cobra.Command {
	var asJSON bool
	var files []string
	cmd := &cobra.Command{
		Use:   "rules [--json] [--rules FILE]...",
		Short: "List detection rules with their sources",
		Example: `  strata rules
  strata rules --json --rules incident-2027.rules.json
  strata rules verify incident-2027.rules.json`,
		Long: `rules lists the built-in CVE-2024-3094 rules, plus those of every --rules
file, with their kind, severity, title and sources. "rules verify FILE"
checks a rule file on its own.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := rules.Load(files...)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if asJSON {
				return writeRulesJSON(cmd.OutOrStdout(), set)
			}
			return writeRulesText(cmd.OutOrStdout(), set)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringArrayVar(&files, "rules", nil, rulesUsage)
	cmd.AddCommand(&cobra.Command{
		Use:     "verify FILE",
		Short:   "Check a rule file and print its name, version, rule count and sha256",
		Example: `  strata rules verify incident-2027.rules.json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := rules.Verify(args[0])
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			f := info.Files[0]
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\nname:    %s\nversion: %s\nrules:   %d\nsha256:  %s\n", args[0], f.Name, f.Version, info.Rules, info.SHA256)
			return nil
		},
	})
	return cmd
}

const rulesUsage = "rule `FILE` to load besides the built-in rules (repeatable)"

// detectFlags are --rules, --deep and the bounds of nested archives, for
// the commands that run the detectors (scan, explore).
type detectFlags struct {
	rules []string
	deep  bool
	// The bounds of the archives nested in a layer (detect.Options).
	maxNestedDepth  int
	maxNestedBytes  int64
	maxNestedMemory int64
	cmd             *cobra.Command
}

// register adds the flags to cmd; deepUsage is the command's own wording
// of --deep.
func (f *detectFlags) register(cmd *cobra.Command, deepUsage string) {
	f.cmd = cmd
	fl := cmd.Flags()
	fl.StringArrayVar(&f.rules, "rules", nil, rulesUsage)
	fl.BoolVar(&f.deep, "deep", false, deepUsage)
	fl.IntVar(&f.maxNestedDepth, "max-nested-depth", detect.DefaultMaxNestedDepth, "deepest nesting of archives opened inside a layer (a .deb in a tarball is 2, its data.tar.xz 3)")
	fl.Int64Var(&f.maxNestedBytes, "max-nested-bytes", detect.DefaultMaxNestedBytes, "most bytes read from the archives nested in one layer, every level counted")
	fl.Int64Var(&f.maxNestedMemory, "max-nested-memory", detect.DefaultMaxNestedMemory, "most memory held at once by one layer's nested archives (decoder windows, zip files read whole)")
}

// nestedRatio is --max-ratio, which bounds nested streams too, when the
// command has it.
func (f *detectFlags) nestedRatio() float64 {
	if f.cmd == nil || f.cmd.Flags().Lookup("max-ratio") == nil {
		return 0
	}
	r, err := f.cmd.Flags().GetFloat64("max-ratio")
	if err != nil {
		return 0
	}
	return r
}

// load loads the built-in rules and every --rules file and compiles the
// detectors; a bad rule file is a usage error.
func (f *detectFlags) load() (*rules.Set, *detect.Engine, error) {
	set, err := rules.Load(f.rules...)
	if err != nil {
		return nil, nil, &exitError{code: exitUsage, err: err}
	}
	for _, b := range []struct {
		flag string
		bad  bool
	}{
		{"--max-nested-depth", f.maxNestedDepth < 1},
		{"--max-nested-bytes", f.maxNestedBytes < 1},
		{"--max-nested-memory", f.maxNestedMemory < 1},
	} {
		if b.bad {
			return nil, nil, &exitError{code: exitUsage, err: fmt.Errorf("%s: must be at least 1", b.flag)}
		}
	}
	eng, err := detect.New(set, detect.Options{Deep: f.deep, MaxNestedDepth: f.maxNestedDepth, MaxNestedBytes: f.maxNestedBytes,
		MaxNestedMemory: f.maxNestedMemory, MaxNestedRatio: f.nestedRatio()})
	if err != nil {
		return nil, nil, &exitError{code: exitUsage, err: err}
	}
	return set, eng, nil
}

type ruleJSON struct {
	ID       string         `json:"id"`
	Kind     rules.Kind     `json:"kind"`
	Severity string         `json:"severity"`
	Title    string         `json:"title"`
	File     string         `json:"file"`
	Sources  []rules.Source `json:"sources"`
}

func writeRulesJSON(w io.Writer, set *rules.Set) error {
	out := struct {
		Ruleset rules.Info `json:"ruleset"`
		Rules   []ruleJSON `json:"rules"`
	}{Ruleset: set.Info(), Rules: []ruleJSON{}}
	for _, r := range set.Rules() {
		out.Rules = append(out.Rules, ruleJSON{ID: r.ID, Kind: r.Kind(), Severity: r.Severity.String(), Title: r.Title, File: set.File(r).Path, Sources: set.Sources(r)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

func writeRulesText(w io.Writer, set *rules.Set) error {
	info := set.Info()
	fmt.Fprintf(w, "ruleset %s sha256 %s (%d rules)\n", info.Version, info.SHA256, info.Rules)
	for _, f := range info.Files {
		fmt.Fprintf(w, "  file %s: %s %s sha256 %s\n", f.Path, f.Name, f.Version, f.SHA256)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSEVERITY\tTITLE\tSOURCES")
	for _, r := range set.Rules() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind(), r.Severity, r.Title, strings.Join(r.Sources, ","))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nSources:")
	seen := map[string]bool{}
	for _, r := range set.Rules() {
		for _, s := range set.Sources(r) {
			key := set.File(r).Path + "\x00" + s.ID
			if seen[key] {
				continue
			}
			seen[key] = true
			fmt.Fprintf(w, "  %s: %s\n", s.ID, s.Ref)
		}
	}
	return nil
}
