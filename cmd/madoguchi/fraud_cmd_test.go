package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/fraud"
	"github.com/madoguchi/madoguchi/tenant"
)

func fraudRun(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	return cliRun(runFraud, stdin, args...)
}

// TestFraudWatchlistDualControl: one staff member imports a list, which is
// refused whole when malformed and otherwise staged; it is screened only
// after a second admin approves it; the requester cannot approve it.
func TestFraudWatchlistDualControl(t *testing.T) {
	t.Parallel() // waits for fresh TOTP steps: overlaps with the other CLI tests that do
	if testing.Short() {
		t.Skip("argon2id logins at production cost: skipped under -short")
	}
	dir, files := t.TempDir(), t.TempDir()
	data := []string{"--data", dir}
	alice, bob, _ := twoAdmins(t, dir)
	var out string
	a := testApp(t, dir)
	ten, err := a.tenants.CreateTenant(context.Background(), tenant.Actor{Kind: "system", ID: "test"}, "bank")
	if err != nil {
		t.Fatal(err)
	}
	tn := []string{"--tenant", ten.ID}

	bad := filepath.Join(files, "bad.csv")
	os.WriteFile(bad, []byte("id,name,birth_date\nH1,見本 一郎,1960-01-02\nH2,見本 二郎,1960/01/02\n"), 0o600)
	_, _, err = fraudRun(t, "", append(append([]string{"watchlist", "import", "--list", "hansha", "--file", bad, "--as", "alice"}, tn...), data...)...)
	if err == nil || !strings.Contains(err.Error(), "record 3: birth_date: must be YYYY-MM-DD") || strings.Contains(err.Error(), "見本") {
		t.Fatalf("import of a malformed list = %v, want the record and field named (before any login) and no value quoted", err)
	}
	// A staff member who may not file the activation (here an operator
	// reviewer) is refused before anything is staged: no pending version is
	// left behind, and alice's import below is version 1.
	const pw = "correct horse battery staple\n"
	out, err = adminRun(t, pw+alice.creds(t), append([]string{"staff", "create", "--username", "carol", "--role", "reviewer", "--as", "alice"}, data...)...)
	if err != nil {
		t.Fatal(err)
	}
	carol := &user{uri: strings.Split(strings.TrimSpace(out), "\n")[1]}
	good := filepath.Join(files, "list.json")
	os.WriteFile(good, []byte(`{"list_id":"hansha","entries":[{"id":"H1","name":"見本 一郎","kana":"ミホン イチロウ","birth_date":"1960-01-02"}]}`), 0o600)
	if _, _, err := fraudRun(t, carol.creds(t), append(append([]string{"watchlist", "import", "--list", "hansha", "--file", good, "--as", "carol"}, tn...), data...)...); err == nil || !strings.Contains(err.Error(), "not an operator admin") {
		t.Fatalf("import by a reviewer = %v, want refused", err)
	}
	if out, _, _ := fraudRun(t, "", append(append([]string{"watchlist", "list"}, tn...), data...)...); strings.Contains(out, "hansha") {
		t.Fatalf("a refused import left a version behind: %q", out)
	}
	out, _, err = fraudRun(t, alice.creds(t), append(append([]string{"watchlist", "import", "--list", "hansha", "--file", good, "--as", "alice"}, tn...), data...)...)
	if err != nil || !strings.Contains(out, "version 1 staged: 1 entries") {
		t.Fatalf("import = %v, %q", err, out)
	}
	approval := strings.TrimSpace(out[strings.Index(out, "approval ap_")+len("approval "):])
	if out, _, _ := fraudRun(t, "", append(append([]string{"watchlist", "list"}, tn...), data...)...); !strings.Contains(out, `"State": "pending"`) {
		t.Errorf("list before approval = %q", out)
	}
	svc, err := a.fraudService()
	if err != nil {
		t.Fatal(err)
	}
	applicant := fraud.Input{Tenant: ten.ID, Session: "ses_1", Subject: "sub_1", Name: "見本　一郎", BirthDate: "1960-01-02"}
	if fs, err := svc.Check(context.Background(), applicant); err != nil || len(fs) != 0 {
		t.Fatalf("screening before approval = %+v, %v, want nothing", fs, err)
	}
	if _, err := adminRun(t, alice.creds(t), append([]string{"approve", approval, "--as", "alice"}, data...)...); err == nil {
		t.Fatal("the requester approved her own import")
	}
	if out, err := adminRun(t, bob.creds(t), append([]string{"approve", approval, "--as", "bob"}, data...)...); err != nil || !strings.Contains(out, "fraud.watchlist approved") {
		t.Fatalf("approve = %v, %q", err, out)
	}
	if out, _, _ := fraudRun(t, "", append(append([]string{"watchlist", "list"}, tn...), data...)...); !strings.Contains(out, `"State": "active"`) {
		t.Errorf("list after approval = %q", out)
	}
	applicant.Session, applicant.Subject = "ses_2", "sub_2"
	fs, err := svc.Check(context.Background(), applicant)
	if err != nil || len(fs) != 1 || fs[0].Code != fraud.ReasonWatchlist || fs[0].Entry != "hansha/H1@v1" {
		t.Fatalf("screening after approval = %+v, %v", fs, err)
	}
	// Policy: turning the duplicate search off weakens the checks; bob
	// files it and it waits for a second admin (alice). (Logins alternate
	// between the two: each needs a fresh TOTP step.)
	if _, err := svc.SetPolicy(context.Background(), fraud.System, ten.ID, fraud.Policy{DocumentReuse: true, Watchlists: true,
		Duplicates: fraud.DuplicateRule{Enabled: true, Thresholds: map[string]float64{"m": 0.95}}}); err != nil {
		t.Fatal(err)
	}
	off := filepath.Join(files, "off.json")
	os.WriteFile(off, []byte(`{"document_reuse":true,"watchlists":true}`), 0o600)
	out, _, err = fraudRun(t, bob.creds(t), append(append([]string{"policy", "set", "--file", off, "--as", "bob"}, tn...), data...)...)
	if err != nil || !strings.Contains(out, "duplicates: search turned off") || !strings.Contains(out, "approval ap_") {
		t.Fatalf("policy set (weakening) = %v, %q, want an approval", err, out)
	}
	if p, v, _ := svc.Policy(context.Background(), ten.ID); v != 1 || !p.Duplicates.Enabled {
		t.Fatalf("policy before approval = v%d %+v, want v1 unchanged", v, p)
	}
	policyApproval := strings.TrimSpace(out[strings.Index(out, "approval ap_")+len("approval ") : strings.Index(out, " filed")])
	if out, err := adminRun(t, alice.creds(t), append([]string{"approve", policyApproval, "--as", "alice"}, data...)...); err != nil || !strings.Contains(out, "fraud.policy.set approved") {
		t.Fatalf("approve policy = %v, %q", err, out)
	}
	if p, v, _ := svc.Policy(context.Background(), ten.ID); v != 2 || p.Duplicates.Enabled {
		t.Errorf("policy after approval = v%d %+v, want v2 with the search off", v, p)
	}
	for _, action := range []string{"fraud.watchlist.stage", "fraud.watchlist.activate"} {
		var n int
		if err := a.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_entries WHERE action = ?`, action).Scan(&n); err != nil || n != 1 {
			t.Errorf("audit entries %s = %d, %v, want 1", action, n, err)
		}
	}
}
