package main

import (
	"bytes"
	"crypto"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document/icao/icaotest"
	"github.com/madoguchi/madoguchi/document/trust"
	"github.com/madoguchi/madoguchi/staff"
)

func trustRun(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	return cliRun(runTrust, stdin, args...)
}

// TestTrustCSCAAndPolicyDualControl: one admin files a single CSCA import
// (a country in no master list) and the SHA-1 policy for its passports; a
// second admin reviews and approves; the anchor, the policy and their
// audit entries appear only then, and a SHA-1 passport of that state
// verifies only under the approved policy, with a policy.sha1 note.
func TestTrustCSCAAndPolicyDualControl(t *testing.T) {
	t.Parallel() // waits for fresh TOTP steps: overlaps with the other CLI tests that do
	if testing.Short() {
		t.Skip("argon2id logins at production cost: skipped under -short")
	}
	dir, files := t.TempDir(), t.TempDir()
	data := []string{"--data", dir}
	alice, bob, aliceID := twoAdmins(t, dir)
	var out string

	// A Russian-style PKI: the Document Signer signs with SHA-1 (data-group
	// hashes, SOD digest and signature); the CSCA's own signature is SHA-256
	// (CheckCSCA refuses a SHA-1 self-signature).
	now := time.Now()
	ck, _ := icaotest.NewECKey("P-256", crypto.SHA256, false)
	dk, _ := icaotest.NewECKey("P-256", crypto.SHA1, false)
	pki, err := icaotest.NewPKI("RU", ck, dk, now.AddDate(-1, 0, 0), now.AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	passport, err := pki.Build(icaotest.Options{MRZ: icaotest.MRZ("RUS", now.AddDate(5, 0, 0).Format("060102")), Hash: crypto.SHA1})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for name, b := range map[string][]byte{"sod": passport.SOD, "dg1": passport.DG[1], "dg2": passport.DG[2]} {
		p := filepath.Join(files, name+".bin")
		os.WriteFile(p, b, 0o600)
		paths = append(paths, p)
	}
	cscaPath := filepath.Join(files, "csca.cer")
	os.WriteFile(cscaPath, pki.CSCA.DER, 0o600)

	// Checks fail before anything is filed (no login needed).
	out, _, err = trustRun(t, "", append([]string{"import", "--csca", cscaPath, "--country", "ID", "--as", "alice", "--test"}, data...)...)
	if !errors.Is(err, trust.ErrCSCA) || !strings.Contains(out, "FAIL country") {
		t.Fatalf("import with the wrong country = %v, output %q; want the failed country check", err, out)
	}
	out, _, err = trustRun(t, alice.creds(t), append([]string{"import", "--csca", cscaPath, "--country", "RU", "--as", "alice", "--test"}, data...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ok   ca", "ok   key_usage", "ok   validity", "ok   country", "ok   signature", "approval ap_"} {
		if !strings.Contains(out, want) {
			t.Errorf("import printed %q, want %q", out, want)
		}
	}
	cscaApproval := strings.TrimSpace(out[strings.Index(out, "approval ap_")+len("approval "):])
	if list, _, _ := trustRun(t, "", append([]string{"list"}, data...)...); strings.Contains(list, "RU\t") {
		t.Fatalf("trust list before approval shows the CSCA: %q", list)
	}
	out, _, err = trustRun(t, "", append([]string{"review", cscaApproval}, data...)...)
	if err != nil || !strings.Contains(out, "trust.csca pending") || !strings.Contains(out, "ok   signature") {
		t.Fatalf("trust review = %v, %q", err, out)
	}
	if out, err = adminRun(t, bob.creds(t), append([]string{"approve", cscaApproval, "--as", "bob"}, data...)...); err != nil || !strings.Contains(out, "trust.csca approved") {
		t.Fatalf("approve = %v, %q", err, out)
	}
	if list, _, _ := trustRun(t, "", append([]string{"list"}, data...)...); !strings.Contains(list, "RU\t") || !strings.Contains(list, "[test]") {
		t.Fatalf("trust list after approval = %q, want the RU test anchor", list)
	}

	verify := func() (string, error) {
		var o, eb bytes.Buffer
		e := &env{stdout: &o, stderr: &eb, getenv: func(string) string { return "" }}
		err := runDocumentVerify(e, append([]string{"--kind", "icao", "--data", dir, "--allow-test-anchors"}, paths...), now)
		return o.String() + eb.String(), err
	}
	if out, err := verify(); err == nil || !strings.Contains(out, "--allow-sha1 RUS") {
		t.Fatalf("verify SHA-1 passport without policy = %v, %q; want a refusal naming the policy", err, out)
	}

	// The policy: bob files, alice approves (the API call a second admin's
	// approve runs; her CLI login is covered above).
	out, _, err = trustRun(t, bob.creds(t), append([]string{"policy", "--allow-sha1", "rus", "--as", "bob"}, data...)...)
	if err != nil || !strings.Contains(out, "proposed: SHA-1 allowed for: RUS") {
		t.Fatalf("trust policy = %v, %q", err, out)
	}
	policyApproval := strings.TrimSpace(out[strings.Index(out, "approval ap_")+len("approval "):])
	if out, _, _ := trustRun(t, "", append([]string{"policy"}, data...)...); !strings.Contains(out, "no issuing state (default)") {
		t.Fatalf("policy before approval = %q", out)
	}
	a, err := openApp(t.Context(), modeDevelopment, dataFlags{data: dir}, slog.New(slog.DiscardHandler), false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sd, err := newStaffDirectory(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sd.Approve(t.Context(), policyApproval, staff.Actor{Kind: audit.ActorStaff, ID: aliceID}); err != nil {
		t.Fatalf("Approve(policy) = %v", err)
	}
	if out, _, _ := trustRun(t, "", append([]string{"list"}, data...)...); !strings.Contains(out, "policy: SHA-1 allowed for: RUS") {
		t.Errorf("trust list = %q, want the policy", out)
	}
	out, err = verify()
	if err != nil || !strings.Contains(out, `"policy.sha1"`) || !strings.Contains(out, "issuing state RUS") {
		t.Fatalf("verify SHA-1 passport under policy RUS = %v, %q", err, out)
	}

	// Both changes are in the audit log, with the approvals.
	rows, err := a.db.Query(t.Context(), `SELECT action, object FROM audit_entries WHERE action LIKE 'trust.%' ORDER BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var act, obj string
		rows.Scan(&act, &obj)
		got = append(got, act)
	}
	if strings.Join(got, ",") != "trust.csca.add,trust.policy.set" {
		t.Errorf("trust audit entries = %v, want trust.csca.add, trust.policy.set", got)
	}
}

// TestTrustImportAtSigningTime: after the German list's signer expires
// (2028-10-17) the import is refused with a pointer to the flag, and
// succeeds with --at-signing-time, saying so.
func TestTrustImportAtSigningTime(t *testing.T) {
	const dir = "../../document/trust/testdata/"
	ml, root := dir+"DE_ML_2026-05-28.ml", dir+"DE_ROOT_CA_CSCA07.cer"
	data := t.TempDir()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	later := time.Date(2029, 1, 15, 0, 0, 0, 0, time.UTC)
	err := runTrustImport(e, []string{"--masterlist", ml, "--signer-root", root, "--data", data}, later)
	if !errors.Is(err, trust.ErrMasterList) || !strings.Contains(err.Error(), "valid when the list was signed") {
		t.Fatalf("import with an expired signer = %v, want a refusal pointing at the signing time", err)
	}
	if err := runTrustImport(e, []string{"--masterlist", ml, "--signer-root", root, "--at-signing-time", "--data", data}, later); err != nil {
		t.Fatalf("import --at-signing-time = %v", err)
	}
	if !strings.Contains(out.String(), "verified at its signing time 2026-05-28T06:28:45Z") {
		t.Errorf("import --at-signing-time printed %q", out.String())
	}
}
