package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/atomicfile"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/scan"
)

type scanFlags struct {
	in          inputFlags
	format      string
	asJSON      bool
	output      string
	examiner    string
	caseID      string
	evidence    string
	quiet       bool
	printSchema bool
	failOn      string
	shard       string
	detectFlags // --rules, --deep
}

func newScanCmd(b Build) *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan [flags] ARCHIVE...",
		Short: "Find CVE-2024-3094 (xz backdoor) artefacts in every layer and write a report",
		Long: `scan reads every layer of every image in each ARCHIVE once, verifies every
blob, and runs the detectors (known-bad digests, byte signatures, package
databases, packages and source tarballs lying in the image, markers,
known-affected images) on every file, deleted ones included.

An ARCHIVE may be a folder of archives: each is scanned with the same rules,
and the report covers them all. An evidence root holding an engine's
storage and registries' (in /var/lib/registry or Docker volumes) is an
input for each: the root (its engines) and each registry's folder.

Formats: text (default; over several images it ends with a fleet summary:
images per verdict, the worst findings, the layers the compromised images
share), json (strata.report/v1), jsonl (strata.jsonl/v1: one JSON object
per image, each input's written as soon as it is read, for a SIEM), sarif
(SARIF 2.1.0), markdown and html (one self-contained file each), openvex
(an OpenVEX 0.2.0 statement per image on CVE-2024-3094: affected, fixed,
not_affected or under_investigation, for grype, trivy and other VEX
consumers) and cyclonedx (a CycloneDX 1.6 BOM of every package read, each
with the layer that installed it, and the findings as vulnerabilities).
--evidence DIR writes the json, sarif, markdown and html reports, a copy
of each matched file named by its sha256 and a SHA256SUMS into DIR, which
must be empty or absent.
SOURCE_DATE_EPOCH (seconds) fixes the scan's timestamps, so that reports
are byte-for-byte reproducible.

Exit codes: 0 no findings and integrity verified; 1 findings or integrity
problems; 2 unusable input or usage error. --fail-on SEVERITY leaves findings
below SEVERITY out of the exit code (they stay in the report); integrity
problems always give 1.`,
		Example: `  strata scan image.tar
  strata scan --format html -o report.html --examiner "J. Doe" --case IR-42 image.tar.gz
  strata scan --format sarif -o strata.sarif --rules incident.rules.json archives/
  strata scan --evidence case-42/ image.tar
  strata scan --format openvex -o image.openvex.json image.tar
  strata scan --format cyclonedx -o image.cdx.json image.tar
  strata scan --format jsonl -o fleet.jsonl archives/
  strata scan --fail-on high --format sarif -o strata.sarif archives/`,
		Args: func(cmd *cobra.Command, args []string) error {
			if f.printSchema {
				return nil
			}
			if len(args) == 0 {
				return &exitError{code: exitUsage, err: errors.New("scan: name at least one ARCHIVE")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runScan(cmd, b, &f, args) },
	}
	f.in.register(cmd, b)
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "text", "report format: text, json, jsonl, sarif, markdown, html, openvex or cyclonedx")
	fl.StringVar(&f.failOn, "fail-on", "info", "exit code 1 only for findings of at least `SEVERITY` (info, low, medium, high, critical); integrity problems always give 1")
	fl.BoolVar(&f.asJSON, "json", false, "same as --format json")
	fl.StringVarP(&f.output, "output", "o", "", "write the report to `FILE` instead of standard output")
	f.detectFlags.register(cmd, "search every ELF file for the byte signatures, not only liblzma (finds static links; slower)")
	fl.StringVar(&f.examiner, "examiner", "", "examiner `NAME` recorded in the report's chain of custody")
	fl.StringVar(&f.caseID, "case", "", "case `ID` recorded in the report's chain of custody")
	fl.StringVar(&f.evidence, "evidence", "", "write an evidence folder (every report format, matched files, SHA256SUMS) to `DIR`")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress on standard error")
	fl.StringVar(&f.shard, "shard", "", "scan only shard `I/N` of the inputs' distinct layers (by digest) into the --cache folder, and write no report; `index/N` takes I from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID; a scan without --shard then assembles the report from the cache")
	fl.BoolVar(&f.printSchema, "print-schema", false, "print the JSON Schema of the json report (of a line, with --format jsonl) and exit")
	_ = fl.MarkHidden("print-schema")
	return cmd
}

func runScan(cmd *cobra.Command, b Build, f *scanFlags, args []string) error {
	out := stdout(cmd)
	format, err := report.ParseFormat(f.format)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if f.printSchema {
		return printSchema(out, format)
	}
	failOn, err := finding.ParseSeverity(f.failOn)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("--fail-on: %w", err)}
	}
	if f.asJSON {
		if cmd.Flags().Changed("format") && format != report.JSON {
			return &exitError{code: exitUsage, err: fmt.Errorf("--json conflicts with --format %s", format)}
		}
		format = report.JSON
	}
	now, err := sourceDateEpoch()
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	set, eng, err := f.detectFlags.load()
	if err != nil {
		return err
	}
	if f.evidence != "" {
		// Refuse a used folder before spending minutes on the scan.
		if ents, err := os.ReadDir(f.evidence); err == nil && len(ents) > 0 {
			return &exitError{code: exitUsage, err: fmt.Errorf("--evidence %s: %w", f.evidence, report.ErrNotEmpty)}
		}
	}

	errOut := cmd.ErrOrStderr()
	inputs, warnings, err := expandInputs(args)
	for _, w := range warnings {
		fmt.Fprintln(errOut, "strata:", printable.String(w))
	}
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}

	f.in.now = now // cache entries made by this scan are stamped as its report is
	opts, err := f.in.options(eng)
	if err != nil {
		return err
	}
	opts.Now = now
	opts.DropTrees = true // the report takes nothing more from them
	// Nor from the layers' listings, unless files are copied out of them.
	opts.DropListings = f.evidence == ""
	if len(inputs) > 1 {
		defer tuneFleetGC()()
	}
	if f.shard != "" {
		return runShard(cmd.Context(), opts, f.shard, f.in.cacheDir, inputs, out, errOut)
	}
	var prog *progress
	if !f.quiet && isTerminal(errOut) {
		prog = newProgress(errOut, time.Now, len(inputs))
		prog.cols = terminalWidth(errOut)
		prog.sized(inputSizes(inputs))
		opts.Progress = prog.update
		f.in.notes.drawOver(prog)
	}

	meta := report.Meta{Tool: "strata", Version: b.Version, Commit: b.Commit, GoVersion: runtime.Version(),
		Examiner: f.examiner, Case: f.caseID, Args: commandLine(), Rules: set}
	doc := report.NewDocument(meta)
	sink, paths := newFleetSink(doc, prog, inputs)
	defer sink.close()
	if f.evidence == "" && len(inputs) > 1 {
		spoolFleet(doc, format, f.output, out)
		defer doc.Close()
	}
	var linesFile *os.File
	if format == report.JSONL {
		if f.evidence == "" {
			// Each input's lines are all this report writes of it.
			doc.LinesOnly()
		}
		sink.lines = out
		if f.output != "" {
			// The file is emptied before the scan reads anything: it must
			// not be one of the inputs.
			if in, ok := sameFileAs(f.output, inputs); ok {
				return &exitError{code: exitUsage, err: fmt.Errorf("-o %s: the input %s is that file; it would be emptied before it is read", f.output, in)}
			}
			// Lines are appended to the file as each input is read, not
			// written all at once at the end like the other formats: a
			// log shipper tailing the file sends each image as it is
			// judged, and a scan killed half way keeps the lines of the
			// inputs it finished.
			linesFile, err = os.OpenFile(f.output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			defer linesFile.Close() // closed, and its error checked, below; this is for the early returns
			sink.lines = linesFile
		}
	}
	ctx, stop := context.WithCancelCause(cmd.Context())
	defer stop(nil)
	sink.stop, sink.dest = stop, f.output
	scan.RunEach(ctx, paths, opts, sink.take)
	if prog != nil {
		f.in.notes.drawOver(nil)
		prog.done()
	}
	if cmd.Context().Err() != nil {
		return &exitError{code: exitUsage, err: cmd.Context().Err()}
	}
	if sink.stopped != nil {
		_ = closeLines(sink, linesFile) // its error is the one that stopped the scan, or says less
		return &exitError{code: exitUsage, err: sink.stopped}
	}
	sink.settle()
	unusable := sayFailures(errOut, sink.failures, sink.roots)
	if err := closeLines(sink, linesFile); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if sink.read == 0 {
		return &exitError{code: exitUsage, err: errors.New("scan: no input could be read")}
	}

	if f.evidence != "" {
		if err := doc.WriteEvidence(f.evidence); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		if !f.quiet {
			fmt.Fprintf(errOut, "strata: evidence written to %s\n", f.evidence)
		}
	}
	if format != report.JSONL { // its lines are written as the inputs are read
		if err := writeReport(doc, format, f.output, out); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
	}

	switch {
	case unusable > 0:
		return &exitError{code: exitUsage}
	case failed(doc.Verdict, failOn):
		return &exitError{code: exitFindings}
	}
	return nil
}

// printSchema prints the JSON Schema of the json report, or of a line of
// jsonl.
func printSchema(out io.Writer, format report.Format) error {
	schema := report.JSONSchema()
	if format == report.JSONL {
		var err error
		if schema, err = report.JSONLSchema(); err != nil {
			return err
		}
	}
	_, err := out.Write(schema)
	return err
}

// closeLines ends the JSON lines: the first error writing them, else the
// error closing their file, is the scan's (exit code 2): a SIEM fed a
// truncated stream must not take it for the whole fleet.
func closeLines(sink *fleetSink, file *os.File) error {
	err := sink.lineErr
	if file != nil {
		if cerr := file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("scan: --format jsonl: %w", err)
	}
	return nil
}

// sameFileAs returns the input that file is, if any.
func sameFileAs(file string, inputs []scanInput) (string, bool) {
	st, err := os.Stat(file)
	if err != nil {
		return "", false // not there yet: no input can be it
	}
	for _, in := range inputs {
		if ist, err := os.Stat(in.path); err == nil && os.SameFile(st, ist) {
			return printable.String(in.path), true
		}
	}
	return "", false
}

// inputSizes are the sizes on disk of the inputs that are files, for the
// fleet's progress; a folder's is left out (0), as summing it would walk
// it before the scan does.
func inputSizes(inputs []scanInput) map[string]int64 {
	sizes := map[string]int64{}
	for _, in := range inputs {
		if st, err := os.Stat(in.path); err == nil && st.Mode().IsRegular() {
			sizes[in.path] = st.Size()
		}
	}
	return sizes
}

// failed decides exit code 1: integrity problems, or a finding at or above
// failOn.
func failed(v report.Verdict, failOn finding.Severity) bool {
	return v.Problems > 0 || (v.WorstSeverity != nil && *v.WorstSeverity >= failOn)
}

// writeReport writes the document to file, or to out when file is empty.
// Colour only ever reaches a terminal, and never when NO_COLOR is set.
func writeReport(doc *report.Document, format report.Format, file string, out io.Writer) error {
	o := textOptions(file, out)
	if file == "" {
		return doc.Write(out, format, o)
	}
	// All or nothing: a full disk or a kill leaves no half-written report
	// under the name asked for.
	return atomicfile.Write(file, 0o644, func(w io.Writer) error {
		return doc.Write(w, format, o)
	})
}

// textOptions are the text report's options for file, or for out when
// file is empty: colour and the terminal's width only on a terminal.
func textOptions(file string, out io.Writer) report.TextOptions {
	if file != "" {
		return report.TextOptions{}
	}
	return report.TextOptions{Color: colorWanted(out), Width: terminalWidth(out)}
}

func colorWanted(w io.Writer) bool {
	if _, set := os.LookupEnv("NO_COLOR"); set {
		return false
	}
	return isTerminal(w)
}

// terminalWidth is the columns of the terminal w is, or 0 (no limit) when
// it is a pipe or a file, so that what is saved or grepped keeps every
// line whole.
func terminalWidth(w io.Writer) int {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok || !term.IsTerminal(f.Fd()) {
		return 0
	}
	cols, _, err := term.GetSize(f.Fd())
	if err != nil {
		return 0
	}
	return cols
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(f.Fd())
}

// sourceDateEpoch returns a clock fixed at SOURCE_DATE_EPOCH when it is
// set, so that two runs write byte-identical reports; nil otherwise.
func sourceDateEpoch() (func() time.Time, error) {
	v, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok || v == "" {
		return nil, nil
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q: not an integer number of seconds", v)
	}
	t := time.Unix(secs, 0).UTC()
	return func() time.Time { return t }, nil
}

// commandLine is the invocation as the report records it.
func commandLine() []string {
	return append([]string{"strata"}, os.Args[1:]...)
}

type scanInput struct {
	path       string
	fromFolder bool // found by listing a folder the user named
	// partOf is the evidence root this input is one storage of, when
	// the root holds an engine's and registries' (scan.Inputs).
	partOf string
}

// expandInputs turns arguments into inputs: an archive file or an image
// layout folder is one input, an evidence root holding an engine's and
// registries' storage one for each; any other folder is a folder of
// archives, whose files and layout folders are each an input, in name
// order.
func expandInputs(args []string) ([]scanInput, []string, error) {
	var out []scanInput
	var warnings []string
	given := map[string]bool{}
	for _, a := range args {
		given[filepath.Clean(a)] = true
	}
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil || !st.IsDir() {
			// An input that cannot be opened is reported when it is
			// scanned, after the others, and makes the exit code 2.
			out = append(out, scanInput{path: a})
			continue
		}
		if isLayoutDir(a) {
			out = append(out, storesOf(a, false, given)...)
			continue
		}
		ents, err := os.ReadDir(a)
		if err != nil {
			return nil, warnings, err
		}
		names := make([]string, 0, len(ents))
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		n := 0
		for _, name := range names {
			p := filepath.Join(a, name)
			st, err := os.Stat(p)
			switch {
			case err != nil:
				warnings = append(warnings, fmt.Sprintf("skipped %s: %v", p, err))
			case st.IsDir() && isLayoutDir(p):
				out = append(out, storesOf(p, true, given)...)
				n++
			case st.Mode().IsRegular():
				out = append(out, scanInput{path: p, fromFolder: true})
				n++
			case st.IsDir():
				warnings = append(warnings, fmt.Sprintf("skipped %s: a folder that is not an image layout", p))
			default:
				// A pipe, a socket or a device: opening a pipe would wait
				// for a writer.
				warnings = append(warnings, fmt.Sprintf("skipped %s: not a regular file (%s)", p, st.Mode().Type()))
			}
		}
		if n == 0 {
			return nil, warnings, fmt.Errorf("%s: no archive or image layout in this folder", a)
		}
	}
	return out, warnings, nil
}

// storesOf is the image folder p as inputs: one, or one for each storage
// of an evidence root that holds several (scan.Inputs), but for a storage
// the user names as an input of its own.
func storesOf(p string, fromFolder bool, given map[string]bool) []scanInput {
	var out []scanInput
	for i, q := range scan.Inputs(p) {
		if i == 0 || !given[filepath.Clean(q)] {
			out = append(out, scanInput{path: q, fromFolder: fromFolder})
		}
	}
	if len(out) > 1 {
		for i := range out {
			out[i].partOf = p
		}
	}
	return out
}

// isLayoutDir reports whether p is an image folder rather than a folder of
// archives: an OCI image layout, or an unpacked docker save.
func isLayoutDir(p string) bool {
	if archive.IsRootFSDir(p) || scan.IsStore(p) {
		return true // one root filesystem (a host's disk) or an engine's storage, not a folder of inputs
	}
	for _, marker := range []string{"oci-layout", "index.json", "manifest.json"} {
		if _, err := os.Stat(filepath.Join(p, marker)); err == nil {
			return true
		}
	}
	return false
}
