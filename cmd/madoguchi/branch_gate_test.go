package main

import "testing"

// TestCodeGate: the code just read is not read again until a frame
// without a code was seen; another code is read at once.
func TestCodeGate(t *testing.T) {
	var g codeGate
	for i, c := range []struct {
		op   string // "admit TEXT" or "clear"
		text string
		want bool
	}{
		{"admit", "A", true},
		{"admit", "A", false}, // still in view
		{"admit", "A", false},
		{"admit", "B", true}, // another customer's code
		{"admit", "A", true}, // A left the view when B came
		{"clear", "", false},
		{"admit", "A", true}, // shown again after the phone was taken away
		{"admit", "A", false},
	} {
		if c.op == "clear" {
			g.clear()
			continue
		}
		if got := g.admit(c.text); got != c.want {
			t.Errorf("step %d: admit(%s) = %v, want %v", i, c.text, got, c.want)
		}
	}
}
