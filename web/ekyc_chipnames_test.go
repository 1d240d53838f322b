package web

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestEKYCChipMyNumberNames posts a chip read holding a My Number file,
// spelled every way a kiosk could, under every document kind: each is 422
// ekyc-my-number and leaves no chip row, no blob and no "stored" audit
// entry behind.
func TestEKYCChipMyNumberNames(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h, _ := newEKYCServer(t, db)
		count := func(q string, args ...any) int {
			t.Helper()
			var n int
			if err := db.QueryRow(t.Context(), q, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for _, kind := range []string{"mynumber", "jpdl", "residence", "icao"} {
			for _, name := range []string{
				"textap_ef01", "textap_ef01.bin", "TEXTAP_EF01.dat", "Textap_Ef01", "reads/textap_ef01.bin", "textap-ef01",
				"visualap_ef05", "VISUALAP_EF05.bin", "visualap_ef05.jp2", "VisualAP-EF05",
			} {
				t.Run(kind+"/"+name, func(t *testing.T) {
					w := do(t, h, "POST", "/v1/ekyc/sessions", jsonBody(map[string]string{"method": "he", "reference": "r"}), bearerHdr("tok-a"))
					var sess struct{ ID string }
					if err := json.Unmarshal(w.Body.Bytes(), &sess); err != nil || w.Code != http.StatusCreated {
						t.Fatalf("create = %d %s", w.Code, w.Body)
					}
					blobs := count(`SELECT COUNT(*) FROM blobs`)
					files := map[string]string{"df1_ef01": "AQID", "mf_ef01": "AQID", name: "MTIzNDU2Nzg5MDEy"}
					w = do(t, h, "POST", "/v1/ekyc/sessions/"+sess.ID+"/chip", jsonBody(map[string]any{"kind": kind, "files": files}), bearerHdr("dev-a"))
					if w.Code != http.StatusUnprocessableEntity {
						t.Fatalf("POST chip with %q as %s = %d %s, want 422", name, kind, w.Code, w.Body)
					}
					if p := decodeProblem(t, w); p.Type != problemTypeBase+"ekyc-my-number" {
						t.Errorf("problem type = %q, want ekyc-my-number", p.Type)
					}
					if n := count(`SELECT COUNT(*) FROM ekyc_chips WHERE session_id = ?`, sess.ID); n != 0 {
						t.Errorf("%d chip rows stored, want 0", n)
					}
					if n := count(`SELECT COUNT(*) FROM blobs`); n != blobs {
						t.Errorf("blobs %d -> %d, want nothing sealed", blobs, n)
					}
					if n := count(`SELECT COUNT(*) FROM audit_entries WHERE object = ? AND action = 'ekyc.chip.add'`, sess.ID); n != 0 {
						t.Errorf("%d ekyc.chip.add audit entries, want 0", n)
					}
				})
			}
		}
	})
}
