package ekyc

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// myNumberNameVariants are spellings of the two files that hold the My
// Number (textap_ef01, visualap_ef05) that a kiosk could send. Every one
// must be refused, whatever kind the kiosk names, before anything is
// sealed, stored or audited as stored.
var myNumberNameVariants = []string{
	"textap_ef01", "textap_ef01.bin", "TEXTAP_EF01.dat", "Textap_Ef01", "TEXTAP_EF01",
	"reads/textap_ef01.bin", "textap-ef01", "TextAP_EF01.BIN.bak",
	"visualap_ef05", "VISUALAP_EF05.bin", "visualap_ef05.jp2", "VisualAP-EF05",
}

// countRows counts the rows of a table (test helper; table names are
// constants of the test).
func (e *env) countRows(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRow(e.ctx, q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestSubmitChipRefusesMyNumberNames(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		kiosk := Actor{Kind: client.Kind, ID: "kiosk-1"}
		kinds := []document.Kind{document.KindMyNumber, document.KindJPDL, document.KindResidence, document.KindICAO}
		for _, kind := range kinds {
			for _, name := range myNumberNameVariants {
				t.Run(string(kind)+"/"+name, func(t *testing.T) {
					c := e.create(e.tenantA, "he")
					blobs := e.countRows(`SELECT COUNT(*) FROM blobs`)
					// The forbidden file travels with an otherwise valid licence
					// read, so no other refusal can hide the one under test.
					files := e.licence(7)
					files[name] = []byte("123456789012")
					_, err := e.svc.SubmitChip(e.ctx, kiosk, e.tenantA, c.Session.ID, kind, files)
					if !errors.Is(err, ErrMyNumber) {
						t.Fatalf("SubmitChip(%s, %q) = %v, want ErrMyNumber", kind, name, err)
					}
					if n := e.countRows(`SELECT COUNT(*) FROM ekyc_chips WHERE session_id = ?`, c.Session.ID); n != 0 {
						t.Errorf("%d chip rows stored for the refused read, want 0", n)
					}
					if n := e.countRows(`SELECT COUNT(*) FROM blobs`); n != blobs {
						t.Errorf("blobs %d -> %d: something was sealed for the refused read", blobs, n)
					}
					if acts := e.auditActions(c.Session.ID); slices.Contains(acts, "ekyc.chip.add") {
						t.Errorf("audit actions %v: the refused read is recorded as stored", acts)
					}
				})
			}
		}
	})
}

// TestSubmitChipNormalisesNames: a read whose names carry case and
// extensions is verified and stored under the canonical names, and a
// bundle whose names do not belong to the named kind is refused before
// anything is stored.
func TestSubmitChipNormalisesNames(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		kiosk := Actor{Kind: client.Kind, ID: "kiosk-1"}

		c := e.create(e.tenantA, "he")
		files := map[string][]byte{}
		for n, b := range e.licence(7) {
			files["READ/"+strings.ToUpper(n)+".BIN"] = b
		}
		sum, err := e.svc.SubmitChip(e.ctx, kiosk, e.tenantA, c.Session.ID, document.KindJPDL, files)
		if err != nil || !sum.Verified {
			t.Fatalf("SubmitChip(upper-case names with extensions) = %+v, %v, want verified", sum, err)
		}
		var stored string
		if err := e.db.QueryRow(e.ctx, `SELECT files FROM ekyc_chips WHERE session_id = ?`, c.Session.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"mf_ef01"`, `"df1_ef07"`, `"df2_ef01"`} {
			if !strings.Contains(stored, want) {
				t.Errorf("stored file map %s lacks canonical name %s", stored, want)
			}
		}

		for _, tc := range []struct {
			name  string
			files map[string][]byte
			want  error
		}{
			{"two names for one file", map[string][]byte{"df1_ef01": {1}, "DF1_EF01.bin": {2}}, ErrInvalidInput},
			{"a residence file in a licence read", map[string][]byte{"df1_ef01": {1}, "df3_ef01": {2}}, ErrInvalidInput},
			{"no kind's file", map[string][]byte{"notes.txt": {1}}, ErrInvalidInput},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := e.create(e.tenantA, "he")
				blobs := e.countRows(`SELECT COUNT(*) FROM blobs`)
				if _, err := e.svc.SubmitChip(e.ctx, kiosk, e.tenantA, c.Session.ID, document.KindJPDL, tc.files); !errors.Is(err, tc.want) {
					t.Fatalf("SubmitChip = %v, want %v", err, tc.want)
				}
				if n := e.countRows(`SELECT COUNT(*) FROM ekyc_chips WHERE session_id = ?`, c.Session.ID); n != 0 {
					t.Errorf("%d chip rows stored, want 0", n)
				}
				if n := e.countRows(`SELECT COUNT(*) FROM blobs`); n != blobs {
					t.Errorf("blobs %d -> %d, want nothing sealed", blobs, n)
				}
			})
		}
	})
}
