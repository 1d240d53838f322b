package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
)

func ekycRun(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	out, _, err := cliRun(runEKYC, stdin, args...)
	return out, err
}

func TestEKYCCommandUsage(t *testing.T) {
	out, err := ekycRun(t, "", "methods")
	if err != nil || !strings.Contains(out, ekyc.CodeHe) || !strings.Contains(out, "2027-04-01 (in principle)") || !strings.Contains(out, "第6条第1項第1号ヘ") {
		t.Errorf("ekyc methods = %q, %v", out, err)
	}
	out, err = ekycRun(t, "", "policy", "example", "--threshold", "0.42")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := ekyc.ParsePolicy([]byte(out)); err != nil || p.FaceMatch.Threshold != 0.42 {
		t.Errorf("policy example does not parse back: %v", err)
	}
	for _, args := range [][]string{
		{}, {"bogus"}, {"methods", "x"}, {"policy"}, {"policy", "delete"},
		{"policy", "example"}, {"policy", "example", "--threshold", "7"},
		{"policy", "show"}, {"policy", "set", "--tenant", "tn_x"}, {"policy", "show", "--tenant", "tn_x", "extra"},
	} {
		if _, err := ekycRun(t, "", args...); !errors.As(err, new(usageError)) {
			t.Errorf("ekyc %v = %v, want a usage error", args, err)
		}
	}
}

func TestEKYCPolicySetShow(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2id at production cost: skipped under -short")
	}
	dir := t.TempDir()
	data := []string{"--data", dir}
	out, err := adminRun(t, "correct horse battery staple\n", append([]string{"staff", "create", "--username", "alice", "--role", "admin"}, data...)...)
	if err != nil {
		t.Fatal(err)
	}
	alice := &user{uri: strings.Split(strings.TrimSpace(out), "\n")[1]}
	out, err = adminRun(t, "", append([]string{"tenant", "create", "--name", "Bank E"}, data...)...)
	if err != nil {
		t.Fatal(err)
	}
	tn := strings.TrimSpace(out)
	if _, err := ekycRun(t, "", append([]string{"policy", "show", "--tenant", tn}, data...)...); !errors.Is(err, ekyc.ErrNoPolicy) {
		t.Errorf("policy show before set = %v, want ErrNoPolicy", err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"methods":["he"],"face_match":{"target_fmr":0.5}}`), 0o600)
	if _, err := ekycRun(t, "", append([]string{"policy", "set", "--tenant", tn, "--file", bad, "--as", "alice"}, data...)...); !errors.Is(err, ekyc.ErrInvalidInput) {
		t.Errorf("policy set (invalid) = %v, want ErrInvalidInput", err)
	}
	good := filepath.Join(dir, "good.json")
	b, _ := json.Marshal(ekyc.ExamplePolicy(0.42))
	os.WriteFile(good, b, 0o600)
	if _, err := ekycRun(t, "correct horse battery staple\n000000\n", append([]string{"policy", "set", "--tenant", tn, "--file", good, "--as", "alice"}, data...)...); err == nil {
		t.Error("policy set with a wrong TOTP code succeeded")
	}
	// The first policy enables a method: a weakening change, filed for a
	// second admin (TestPolicySetDualControl approves one), not stored.
	if out, err := ekycRun(t, alice.creds(t), append([]string{"policy", "set", "--tenant", tn, "--file", good, "--as", "alice"}, data...)...); err != nil || !strings.Contains(out, "approval ap_") {
		t.Fatalf("policy set (first) = %q, %v", out, err)
	}
	if _, err := ekycRun(t, "", append([]string{"policy", "show", "--tenant", tn}, data...)...); !errors.Is(err, ekyc.ErrNoPolicy) {
		t.Errorf("policy show after a filed request = %v, want ErrNoPolicy", err)
	}
	a := testApp(t, dir)
	if _, err := ekyc.StorePolicy(context.Background(), a.db, a.audit, ekyc.Actor{Kind: "system"}, tn, ekyc.ExamplePolicy(0.42), time.Now()); err != nil {
		t.Fatal(err)
	}
	// A strengthening change (a higher threshold) is stored at once.
	b, _ = json.Marshal(ekyc.ExamplePolicy(0.45))
	os.WriteFile(good, b, 0o600)
	if out, err := ekycRun(t, alice.creds(t), append([]string{"policy", "set", "--tenant", tn, "--file", good, "--as", "alice"}, data...)...); err != nil || !strings.Contains(out, "strengthens face_match.threshold: 0.42 -> 0.45") || !strings.Contains(out, "version 2") {
		t.Fatalf("policy set (stronger) = %q, %v", out, err)
	}
	out, err = ekycRun(t, "", append([]string{"policy", "show", "--tenant", tn}, data...)...)
	var shown struct {
		Version int
		Policy  ekyc.Policy
	}
	if err != nil || json.Unmarshal([]byte(out), &shown) != nil || shown.Version != 2 || shown.Policy.FaceMatch.Threshold != 0.45 {
		t.Errorf("policy show = %q, %v", out, err)
	}
	if _, err := ekycRun(t, "", append([]string{"policy", "show", "--tenant", "tn_missing"}, data...)...); err == nil {
		t.Error("policy show for a missing tenant succeeded")
	}
}
