package oauth

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// Evidence files of each accepted type, by magic bytes.
var (
	testPDF  = []byte("%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n")
	testPNG  = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	testJPEG = []byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F'}
)

func TestOnboarding(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		fs, err := blob.NewFS(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		blobs, err := blob.New(db, fs)
		if err != nil {
			t.Fatal(err)
		}
		filler := Actor{Kind: audit.ActorStaff, ID: "filler"}
		reviewer := Actor{Kind: audit.ActorStaff, ID: "rev"}
		// fill records every area: the first met with a PDF, the rest not applicable.
		fill := func(t *testing.T, clientID string, by Actor) {
			t.Helper()
			for i, a := range CriteriaAreas {
				st, name, file := ItemNotApplicable, "", []byte(nil)
				if i == 0 {
					st, name, file = ItemMet, "policy.pdf", testPDF
				}
				if err := e.srv.SetAssessmentItem(ctx, by, blobs, e.tenant, clientID, a, st, "checked", name, file); err != nil {
					t.Fatalf("SetAssessmentItem(%s) = %v", a, err)
				}
			}
		}

		t.Run("evidence is a PDF, PNG or JPEG under the size limit", func(t *testing.T) {
			c := e.newPendingClient()
			for _, tc := range []struct {
				name string
				file []byte
				want string // "" refused
			}{
				{"a.pdf", testPDF, EvidencePDF},
				{"a.png", testPNG, EvidencePNG},
				{"a.jpg", testJPEG, EvidenceJPEG},
				{"a.pdf", []byte("<html>%PDF-1.7</html>"), ""},
				{"a.exe", []byte("MZ\x90\x00"), ""},
				{"a.svg", []byte("<svg xmlns='http://www.w3.org/2000/svg'/>"), ""},
				{"big.pdf", append(append([]byte{}, testPDF...), make([]byte, MaxEvidenceSize)...), ""},
				{"", testPDF, ""},
				{"bad\nname.pdf", testPDF, ""},
			} {
				err := e.srv.SetAssessmentItem(ctx, filler, blobs, e.tenant, c.id, "api_security", ItemMet, "", tc.name, tc.file)
				if tc.want == "" {
					if !errors.Is(err, ErrInvalidInput) {
						t.Errorf("SetAssessmentItem(%q, % x...) = %v, want ErrInvalidInput", tc.name, tc.file[:min(8, len(tc.file))], err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("SetAssessmentItem(%q) = %v", tc.name, err)
				}
				a, _ := e.srv.Assessment(ctx, e.tenant, c.id)
				if got := a.Items[6]; got.EvidenceType != tc.want || got.EvidenceName != tc.name {
					t.Errorf("after %q: item %+v, want type %s", tc.name, got, tc.want)
				}
			}
		})

		t.Run("evidence download is scoped to the tenant, verified and audited", func(t *testing.T) {
			c := e.newPendingClient()
			fill(t, c.id, filler)
			// A later change without a file keeps the file.
			if err := e.srv.SetAssessmentItem(ctx, filler, blobs, e.tenant, c.id, CriteriaAreas[0], ItemMet, "re-checked", "", nil); err != nil {
				t.Fatal(err)
			}
			ev, err := e.srv.Evidence(ctx, reviewer, blobs, e.tenant, c.id, CriteriaAreas[0])
			if err != nil || !bytes.Equal(ev.Data, testPDF) || ev.Type != EvidencePDF || ev.Name != "policy.pdf" {
				t.Fatalf("Evidence = %+v, %v; want the PDF", ev.Name, err)
			}
			var n int
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_entries WHERE action = 'oauth.assessment.evidence.read' AND object = ?`, c.id).Scan(&n); err != nil || n != 1 {
				t.Errorf("evidence reads audited = %d, %v; want 1", n, err)
			}
			// At rest the file is sealed: the blob holds no plaintext.
			var refs, sum, name, typ string
			if err := db.QueryRow(ctx, `SELECT evidence_ref, evidence_sha256, evidence_name, evidence_type FROM oauth_assessment_items WHERE client_id = ? AND area = ?`,
				c.id, CriteriaAreas[0]).Scan(&refs, &sum, &name, &typ); err != nil {
				t.Fatal(err)
			}
			ref, _ := blob.ParseRef(refs)
			if ct, err := blobs.Get(ctx, ref); err != nil || bytes.Contains(ct, []byte("%PDF-")) {
				t.Errorf("stored evidence: %v, plaintext visible %v", err, bytes.Contains(ct, []byte("%PDF-")))
			}
			// Another area's row pointing at this file does not open it
			// (the seal binds client, area and hash).
			if _, err := db.Exec(ctx, `UPDATE oauth_assessment_items SET evidence_ref = ?, evidence_sha256 = ?, evidence_name = ?, evidence_type = ? WHERE client_id = ? AND area = ?`,
				refs, sum, name, typ, c.id, CriteriaAreas[2]); err != nil {
				t.Fatal(err)
			}
			if ev, err := e.srv.Evidence(ctx, reviewer, blobs, e.tenant, c.id, CriteriaAreas[2]); err == nil || errors.Is(err, ErrNotFound) {
				t.Errorf("evidence moved to another area = %d bytes, %v; want an error", len(ev.Data), err)
			}
			other, err := e.reg.CreateTenant(ctx, tenantActor(), "Other "+randomToken()[:6])
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct{ tenant, area string }{
				{other.ID, CriteriaAreas[0]}, // another tenant's staff with this client's id
				{e.tenant, CriteriaAreas[1]}, // an area without a file
				{e.tenant, "nope"},
			} {
				if _, err := e.srv.Evidence(ctx, reviewer, blobs, tc.tenant, c.id, tc.area); !errors.Is(err, ErrNotFound) {
					t.Errorf("Evidence(%s, %s) = %v, want ErrNotFound", tc.tenant, tc.area, err)
				}
			}
			if err := e.srv.SetAssessmentItem(ctx, filler, blobs, other.ID, c.id, CriteriaAreas[0], ItemMet, "", "x.pdf", testPDF); !errors.Is(err, ErrNotFound) {
				t.Errorf("SetAssessmentItem from another tenant = %v, want ErrNotFound", err)
			}
			if _, err := e.srv.SignOff(ctx, reviewer, other.ID, c.id); !errors.Is(err, ErrNotFound) {
				t.Errorf("SignOff from another tenant = %v, want ErrNotFound", err)
			}
			if _, err := e.srv.ActivationPayload(ctx, other.ID, c.id); !errors.Is(err, ErrNotFound) {
				t.Errorf("ActivationPayload from another tenant = %v, want ErrNotFound", err)
			}
		})

		t.Run("the reviewer filled none of the items", func(t *testing.T) {
			c := e.newPendingClient()
			fill(t, c.id, filler)
			if err := e.srv.SetAssessmentItem(ctx, reviewer, blobs, e.tenant, c.id, "other", ItemNotApplicable, "", "", nil); err != nil {
				t.Fatal(err)
			}
			if _, err := e.srv.SignOff(ctx, reviewer, e.tenant, c.id); !errors.Is(err, ErrSameReviewer) {
				t.Fatalf("SignOff by someone who filled an item = %v, want ErrSameReviewer", err)
			}
			if _, err := e.srv.SignOff(ctx, filler, e.tenant, c.id); !errors.Is(err, ErrSameReviewer) {
				t.Fatalf("SignOff by the filler = %v, want ErrSameReviewer", err)
			}
			if _, err := e.srv.SignOff(ctx, Actor{Kind: audit.ActorSystem, ID: "third"}, e.tenant, c.id); !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("SignOff by the system = %v, want ErrInvalidInput", err)
			}
			if _, err := e.srv.SignOff(ctx, Actor{Kind: audit.ActorStaff, ID: "third"}, e.tenant, c.id); err != nil {
				t.Fatalf("SignOff by a third person = %v", err)
			}
		})

		t.Run("a change after sign-off clears it and the pending activation fails", func(t *testing.T) {
			c := e.newPendingClient()
			fill(t, c.id, filler)
			if _, err := e.srv.SignOff(ctx, reviewer, e.tenant, c.id); err != nil {
				t.Fatal(err)
			}
			payload, err := e.srv.ActivationPayload(ctx, e.tenant, c.id)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.srv.SetAssessmentItem(ctx, filler, blobs, e.tenant, c.id, "other", ItemNotApplicable, "changed after sign-off", "", nil); err != nil {
				t.Fatal(err)
			}
			if a, _ := e.srv.Assessment(ctx, e.tenant, c.id); a.SignedOff() {
				t.Fatal("the sign-off survived a change")
			}
			// Signed off again (the same reviewer), the old request names
			// the old digest: approving it activates nothing.
			if _, err := e.srv.SignOff(ctx, reviewer, e.tenant, c.id); err != nil {
				t.Fatal(err)
			}
			err = e.db.InTx(ctx, func(tx *store.Tx) error {
				return e.srv.ActivationExecutor().Run(ctx, tx, stApproval(payload, e.tenant, "a1"), stActor("a2"))
			})
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("approving a request for a changed assessment = %v, want ErrInvalidInput", err)
			}
			if p, _ := e.srv.Profile(ctx, e.tenant, c.id); p.Status != ProfilePending {
				t.Fatalf("status = %s, want pending", p.Status)
			}
			if err := e.approveActivation(e.tenant, c.id, "a1", "a2"); err != nil {
				t.Fatal(err)
			}
			// Active: the assessment is frozen.
			if err := e.srv.SetAssessmentItem(ctx, filler, blobs, e.tenant, c.id, "other", ItemNotMet, "", "", nil); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("SetAssessmentItem on an active client = %v, want ErrInvalidInput", err)
			}
			if _, err := e.srv.ActivationPayload(ctx, e.tenant, c.id); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("ActivationPayload on an active client = %v, want ErrInvalidInput", err)
			}
		})
	})
}

func FuzzCheckItem(f *testing.F) {
	f.Add("api_security", "met", "note", "a.pdf", testPDF)
	f.Add("other", "not_applicable", "", "", []byte(nil))
	f.Add("x", "met", "\xff", "a\x00", []byte("MZ"))
	f.Fuzz(func(t *testing.T, area, status, note, name string, file []byte) {
		typ, err := checkItem(area, status, note, name, file)
		if err != nil {
			return
		}
		if len(file) > 0 && typ != EvidenceType(file) {
			t.Fatalf("type %q, sniffed %q", typ, EvidenceType(file))
		}
		if len(file) > 0 && typ == "" {
			t.Fatal("a file of no accepted type was accepted")
		}
	})
}

func stApproval(payload []byte, tenantID, requester string) staff.Approval {
	return staff.Approval{ID: "ap_" + randomToken()[:8], Kind: KindActivate, Payload: payload, Requester: requester, TenantID: tenantID}
}

func stActor(id string) staff.Actor { return staff.Actor{Kind: audit.ActorStaff, ID: id} }
