package trust

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/madoguchi/madoguchi/internal/atomicfile"
)

// OperatorPolicy is the operator's explicit policy for ICAO documents, kept
// beside the anchors in <icao dir>/policy.json. Its zero value (no file) is
// the default: no exception.
type OperatorPolicy struct {
	// AllowSHA1 lists the issuing states (DG1 codes, ISO 3166-1 alpha-3,
	// upper case, sorted) whose documents may use SHA-1.
	AllowSHA1 []string `json:"allow_sha1,omitempty"`
}

const (
	policyFile = "policy.json"
	// MaxPolicyFile bounds policy.json.
	MaxPolicyFile = 16 << 10
	maxStates     = 300
)

// Normalize upper-cases, sorts and deduplicates the states and checks
// their form (three letters A–Z; whether a code names a state is checked
// by the ICAO verifier, which refuses to start on an unknown one).
func (p OperatorPolicy) Normalize() (OperatorPolicy, error) {
	var out OperatorPolicy
	for _, s := range p.AllowSHA1 {
		s = strings.ToUpper(strings.TrimSpace(s))
		if len(s) != 3 || strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return OperatorPolicy{}, fmt.Errorf("trust: policy: %q is not an issuing state code (three letters, e.g. RUS)", s)
		}
		out.AllowSHA1 = append(out.AllowSHA1, s)
	}
	if len(out.AllowSHA1) > maxStates {
		return OperatorPolicy{}, fmt.Errorf("trust: policy: %d states, limit %d", len(out.AllowSHA1), maxStates)
	}
	slices.Sort(out.AllowSHA1)
	out.AllowSHA1 = slices.Compact(out.AllowSHA1)
	return out, nil
}

// String is one reviewer-readable line.
func (p OperatorPolicy) String() string {
	if len(p.AllowSHA1) == 0 {
		return "SHA-1 allowed for: no issuing state (default)"
	}
	return "SHA-1 allowed for: " + strings.Join(p.AllowSHA1, ", ")
}

// LoadPolicy reads dir/policy.json; a missing file is the default policy.
// A file that does not decode, or holds an invalid state, is an error.
func LoadPolicy(dir string) (OperatorPolicy, error) {
	b, err := readLimited(filepath.Join(dir, policyFile), MaxPolicyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return OperatorPolicy{}, nil
	}
	if err != nil {
		return OperatorPolicy{}, err
	}
	var p OperatorPolicy
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || dec.More() {
		return OperatorPolicy{}, fmt.Errorf("trust: %s does not decode", filepath.Join(dir, policyFile))
	}
	return p.Normalize()
}

// SavePolicy writes dir/policy.json atomically.
func SavePolicy(dir string, p OperatorPolicy) error {
	p, err := p.Normalize()
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, policyFile), append(b, '\n'), 0o600)
}
