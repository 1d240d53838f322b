package ekyc

import (
	"testing"

	"github.com/madoguchi/madoguchi/document"
)

// TestChipNotes: the audit entry of a chip read names the verifier's notes
// (non-mandatory checks that passed: operator policy exceptions and
// accepted issuer deviations), never skipped or failed checks.
func TestChipNotes(t *testing.T) {
	r := ChipResult{Checks: []document.Check{
		{Name: "sod.content_type", Result: document.Pass},
		{Name: "sod.signature", Result: document.Pass, Mandatory: true},
		{Name: "policy.sha1", Result: document.Pass},
		{Name: "aa", Result: document.Skipped},
		{Name: "dg1.hash", Result: document.Fail, Mandatory: true},
	}}
	if got, want := r.notes(), "sod.content_type,policy.sha1"; got != want {
		t.Errorf("notes() = %q, want %q", got, want)
	}
	if got := (&ChipResult{}).notes(); got != "" {
		t.Errorf("notes() of no checks = %q, want empty", got)
	}
}
