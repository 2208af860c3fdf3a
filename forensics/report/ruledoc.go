package report

import (
	"sort"

	"github.com/strata-forensics/strata/forensics/rules"
)

// ruleIDs returns the distinct rule ids of the document's findings, sorted.
func (d *Document) ruleIDs() []string {
	seen := map[string]bool{}
	var ids []string
	for _, f := range d.Findings {
		if !seen[f.Rule] {
			seen[f.Rule] = true
			ids = append(ids, f.Rule)
		}
	}
	sort.Strings(ids)
	return ids
}

// RuleDoc is what the report says about one rule.
type RuleDoc struct {
	ID          string
	Title       string
	Description string
	Severity    string
	Kind        string
	File        string // rule file that defined it
	Sources     []rules.Source
}

// ruleDoc describes a rule from the loaded set, or from its findings alone
// when the set is unknown (a report rebuilt without the rules at hand).
func (d *Document) ruleDoc(id string) RuleDoc {
	doc := RuleDoc{ID: id}
	if d.rules != nil {
		if r := d.rules.Rule(id); r != nil {
			doc.Title = r.Title
			doc.Description = r.Description
			doc.Severity = r.Severity.String()
			doc.Kind = string(r.Kind())
			doc.File = d.rules.File(r).Path
			doc.Sources = d.rules.Sources(r)
			return doc
		}
	}
	for _, f := range d.Findings {
		if f.Rule == id {
			doc.Severity = f.Severity.String()
			doc.Kind = string(f.Kind)
			break
		}
	}
	return doc
}

// Rules describes every rule that matched, sorted by id.
func (d *Document) Rules() []RuleDoc {
	var out []RuleDoc
	for _, id := range d.ruleIDs() {
		out = append(out, d.ruleDoc(id))
	}
	return out
}
