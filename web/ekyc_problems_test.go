package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestEKYCProblemTypes: each refusal answers its own problem type, title
// and message — a second chip read is not a "replayed frame", and a deeply
// nested transaction record is not told about image sizes.
func TestEKYCProblemTypes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h, _ := newEKYCServer(t, db)
		w := do(t, h, "POST", "/v1/ekyc/sessions", jsonBody(map[string]string{"method": "he", "reference": "r"}), bearerHdr("tok-a"))
		var sess struct{ ID string }
		if err := json.Unmarshal(w.Body.Bytes(), &sess); err != nil || w.Code != http.StatusCreated {
			t.Fatalf("create = %d %s", w.Code, w.Body)
		}
		chip := map[string]any{"kind": "jpdl", "files": map[string]string{"df1_ef01": "AQID"}}
		if w := do(t, h, "POST", "/v1/ekyc/sessions/"+sess.ID+"/chip", jsonBody(chip), bearerHdr("dev-a")); w.Code != http.StatusCreated {
			t.Fatalf("first chip = %d %s", w.Code, w.Body)
		}

		nested := func(depth int) any {
			var v any = "x"
			for range depth {
				v = map[string]any{"a": v}
			}
			return v
		}
		tx := func(content any) any {
			return map[string]any{"date": time.Now().Add(-time.Hour), "kind": "open", "content": map[string]any{"c": content}}
		}
		for _, tc := range []struct {
			name, path, tok string
			body            any
			status          int
			slug, title     string
			detail          string // a substring of the detail
			notDetail       string
		}{
			{"second chip read", "/v1/ekyc/sessions/" + sess.ID + "/chip", "dev-a", chip, 409,
				"ekyc-already-received", "Already received", "already received", "frame"},
			{"deeply nested transaction", "/v1/ekyc/sessions/" + sess.ID + "/transactions", "tok-a", tx(nested(1000)), 400,
				"bad-request", "Bad request", "nest", "image"},
			{"nested just within the limit is judged on its size only", "/v1/ekyc/sessions/" + sess.ID + "/transactions", "tok-a", tx(nested(10)), 409,
				"ekyc-state", "Wrong session state", "", "image"},
			{"oversized transaction", "/v1/ekyc/sessions/" + sess.ID + "/transactions", "tok-a", tx(strings.Repeat("x", 5000)), 413,
				"too-large", "Too large", "transaction record", "image"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := do(t, h, "POST", tc.path, jsonBody(tc.body), bearerHdr(tc.tok))
				if w.Code != tc.status {
					t.Fatalf("POST %s = %d %s, want %d", tc.path, w.Code, w.Body, tc.status)
				}
				p := decodeProblem(t, w)
				text := p.Detail
				for _, e := range p.Errors {
					text += " " + e.Detail
				}
				if p.Type != problemTypeBase+tc.slug || p.Title != tc.title {
					t.Errorf("problem = %q %q, want %s %q", p.Type, p.Title, tc.slug, tc.title)
				}
				if !strings.Contains(strings.ToLower(text), tc.detail) || strings.Contains(strings.ToLower(text+p.Title), tc.notDetail) {
					t.Errorf("problem text %q, want it to say %q and not %q", text, tc.detail, tc.notDetail)
				}
			})
		}
	})
}
