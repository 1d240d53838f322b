package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestAuditVerifyRecordDownload: 'audit verify --proof' checks a record
// downloaded from the portal offline — the bundle against the log's key,
// and the record's bytes against the export entry — and a bundle alone.
func TestAuditVerifyRecordDownload(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	signer, _, err := audit.GenerateSigner(rand.Reader, "test.example/audit")
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(db, signer)
	if err != nil {
		t.Fatal(err)
	}
	rec := `{"id":"rec_1","claims":{"family_name":"見本"}}`
	sum := sha256.Sum256([]byte(rec))
	for _, e := range []audit.Entry{
		{ActorKind: audit.ActorSystem, Action: "ekyc.record.create", Object: "rec_1", Outcome: audit.OutcomeOK},
		{ActorKind: audit.ActorStaff, ActorID: "st_1", Action: "ops.other", Object: "elsewhere", Outcome: audit.OutcomeOK},
		{ActorKind: audit.ActorStaff, ActorID: "st_1", Action: "ekyc.record.export", Object: "rec_1", Outcome: audit.OutcomeOK,
			Details: map[string]string{"record_sha256": hex.EncodeToString(sum[:])}},
	} {
		if err := db.InTx(ctx, func(tx *store.Tx) error { _, err := l.Append(ctx, tx, e); return err }); err != nil {
			t.Fatal(err)
		}
	}
	b, err := l.ProveObjects(ctx, []string{"rec_1"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, v any) string {
		p := filepath.Join(dir, name)
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("record.json", map[string]any{"record": json.RawMessage(rec), "audit_proof": b})
	forged := write("forged.json", map[string]any{"record": json.RawMessage(strings.Replace(rec, "見本", "偽物", 1)), "audit_proof": b})
	bundle := write("bundle.json", b)
	vkey := l.VerifierKey()
	if code, out, errs := auditRun(t, "verify", "--key", vkey, "--proof", good); code != 0 || !strings.Contains(out, "ok: 2 entries of the record's trail") {
		t.Errorf("verify record = %d %q %q", code, out, errs)
	}
	if code, out, errs := auditRun(t, "verify", "--key", vkey, "--proof", forged); code != 1 || !strings.Contains(errs, "no export entry") {
		t.Errorf("verify forged record = %d %q %q, want FAIL", code, out, errs)
	}
	if code, out, errs := auditRun(t, "verify", "--key", vkey, "--proof", bundle); code != 0 || !strings.Contains(out, "ok: 2 entries,") {
		t.Errorf("verify bundle = %d %q %q", code, out, errs)
	}
	other, _, _ := audit.GenerateSigner(rand.Reader, "test.example/audit")
	if code, _, errs := auditRun(t, "verify", "--key", other.VerifierKey(), "--proof", good); code != 1 {
		t.Errorf("verify with another key = %d %q, want FAIL", code, errs)
	}
}
