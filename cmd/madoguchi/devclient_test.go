package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/ekyc"
)

// TestDevClient: the README's path — a development client can open eKYC
// sessions (scopes and the example policy are there), its key stays in the
// data directory, --env prints eval-able exports, and a second client with
// the same name is refused with a message naming --name.
func TestDevClient(t *testing.T) {
	dir := t.TempDir()
	a := testApp(t, dir) // a development data directory (marker, keys)
	a.Close()
	run := func(args ...string) (string, string, error) {
		var out, errb strings.Builder
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
		err := runDev(context.Background(), e, append(append([]string{"client"}, args...), "--data", dir))
		return out.String(), errb.String(), err
	}
	out, _, err := run()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		TenantID      string   `json:"tenant_id"`
		ClientID      string   `json:"client_id"`
		KeyFile       string   `json:"key_file"`
		Scopes        []string `json:"scopes"`
		PolicyVersion int      `json:"policy_version"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("dev client printed %q: %v", out, err)
	}
	if want := filepath.Join(dir, "dev-clients", got.ClientID+".pem"); got.KeyFile != want {
		t.Errorf("key file = %q, want %q (inside the data directory)", got.KeyFile, want)
	}
	if fi, err := os.Stat(got.KeyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, %v", fi, err)
	}
	if !slices.Contains(got.Scopes, "ekyc:sessions") || !slices.Contains(got.Scopes, "ekyc:results") || got.PolicyVersion != 1 {
		t.Errorf("scopes %v, policy version %d: want ekyc:sessions and ekyc:results and a policy", got.Scopes, got.PolicyVersion)
	}
	a = testApp(t, dir)
	if p, _, err := ekyc.LoadPolicy(context.Background(), a.db, got.TenantID); err != nil || !slices.Contains(p.Methods, "he") {
		t.Errorf("tenant policy = %+v, %v", p, err)
	}
	if _, _, err := run(); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Errorf("second dev client with the same name = %v, want an error naming --name", err)
	}
	out, _, err = run("--name", "Second Bank", "--env")
	if err != nil || !strings.HasPrefix(out, "export MADOGUCHI_CLIENT_ID='cl_") || !strings.Contains(out, "MADOGUCHI_CLIENT_KEY='"+dir) {
		t.Errorf("dev client --env = %q, %v", out, err)
	}
}
