package web

import (
	"net/http"
	"testing"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestEKYCRelatedRoutes: the related-session views are staff-only, need the
// reviewer role and a claimed session under review (the service's own
// rules are tested in package ekyc, TestRelatedEvidence).
func TestEKYCRelatedRoutes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h, _ := newEKYCServer(t, db)
		w := do(t, h, "POST", "/v1/ekyc/sessions", jsonBody(map[string]string{"method": "he", "reference": "c-1"}), bearerHdr("tok-a"))
		if w.Code != http.StatusCreated {
			t.Fatalf("create = %d", w.Code)
		}
		for _, path := range []string{"/evidence", "/frames/1", "/chip-photo"} {
			url := "/v1/ekyc/review/ses_x/related/ses_y" + path
			for _, tc := range []struct {
				tok  string
				want int
			}{{"", 401}, {"bogus", 401}, {"staff-aud", 403}, {"staff-rev", 404}} {
				hdr := map[string]string{}
				if tc.tok != "" {
					hdr["Authorization"] = "Bearer " + tc.tok
				}
				if w := do(t, h, "GET", url, nil, hdr); w.Code != tc.want {
					t.Errorf("GET %s with %q = %d, want %d", url, tc.tok, w.Code, tc.want)
				}
			}
		}
		if w := do(t, h, "GET", "/v1/ekyc/review/ses_x/related/ses_y/frames/0", nil, bearerHdr("staff-rev")); w.Code != http.StatusNotFound {
			t.Errorf("frame 0 = %d, want 404", w.Code)
		}
	})
}
