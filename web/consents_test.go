package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/oauth"
)

// fakeConsents records what the routes asked for.
type fakeConsents struct {
	who     oauth.Viewer
	tenant  string
	filter  oauth.ConsentFilter
	revoked string
	subject string
}

func (f *fakeConsents) Consents(ctx context.Context, who oauth.Viewer, tenantID string, fl oauth.ConsentFilter) ([]oauth.Consent, error) {
	f.who, f.tenant, f.filter = who, tenantID, fl
	return []oauth.Consent{{ID: "gr_1", TenantID: tenantID, Subject: fl.Subject}}, nil
}

func (f *fakeConsents) RevokeConsent(ctx context.Context, who oauth.Viewer, tenantID, id string) error {
	f.who, f.tenant, f.revoked, f.subject = who, tenantID, id, ""
	if id != "gr_1" {
		return oauth.ErrNotFound
	}
	return nil
}

func (f *fakeConsents) RevokeCustomerConsent(ctx context.Context, who oauth.Viewer, tenantID, subject, id string) error {
	f.who, f.tenant, f.revoked, f.subject = who, tenantID, id, subject
	if id != "gr_1" || subject != "cust-1" {
		return oauth.ErrNotFound
	}
	return nil
}

// TestConsentRoutes: a tenant's client with oauth:consents lists and
// revokes its tenant's consents; a customer's token lists and revokes only
// that customer's; without the scope, nothing; bad parameters are
// problems.
func TestConsentRoutes(t *testing.T) {
	fc := &fakeConsents{}
	s, _ := newTestServer(t, Config{Consents: fc, Auth: &fakeAuth{tokens: map[string]Principal{
		"tok-staff": {TenantID: "ten-a", ClientID: "cli-a", Scopes: []string{ScopeOAuthConsents}},
		"tok-cust":  {TenantID: "ten-a", ClientID: "cli-app", Subject: "cust-1", Scopes: []string{ScopeOAuthConsents}},
		"tok-none":  {TenantID: "ten-a", ClientID: "cli-b", Scopes: []string{"accounts:read"}},
	}}})
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	if w := do(t, s, "GET", "/v1/oauth/consents?client_id=cl_x", nil, bearer("tok-staff")); w.Code != 200 || !strings.Contains(w.Body.String(), `"consents":[`) {
		t.Fatalf("tenant list = %d %s", w.Code, w.Body)
	}
	if fc.tenant != "ten-a" || fc.filter.ClientID != "cl_x" || fc.who.Kind != "client" || fc.who.ID != "cli-a" {
		t.Errorf("tenant list asked %+v %q %+v", fc.who, fc.tenant, fc.filter)
	}
	if w := do(t, s, "GET", "/v1/oauth/consents", nil, bearer("tok-cust")); w.Code != 200 || fc.filter.Subject != "cust-1" || fc.who.Kind != "customer" || strings.Contains(fc.who.ID, "cust-1") {
		t.Errorf("customer list = %d, filter %+v, viewer %+v; want own consents, viewer by pseudonym", w.Code, fc.filter, fc.who)
	}
	for _, tc := range []struct {
		name, method, target, tok string
		status                    int
	}{
		{"customer asks for another customer", "GET", "/v1/oauth/consents?customer=cust-2", "tok-cust", 403},
		{"no scope: list", "GET", "/v1/oauth/consents", "tok-none", 403},
		{"no scope: revoke", "POST", "/v1/oauth/consents/gr_1/revoke", "tok-none", 403},
		{"no token", "GET", "/v1/oauth/consents", "", 401},
		{"repeated filter", "GET", "/v1/oauth/consents?client_id=a&client_id=b", "tok-staff", 400},
		{"overlong filter", "GET", "/v1/oauth/consents?customer=" + strings.Repeat("c", 129), "tok-staff", 400},
		{"tenant revokes", "POST", "/v1/oauth/consents/gr_1/revoke", "tok-staff", 204},
		{"tenant revokes unknown", "POST", "/v1/oauth/consents/gr_2/revoke", "tok-staff", 404},
		{"customer revokes own", "POST", "/v1/oauth/consents/gr_1/revoke", "tok-cust", 204},
		{"customer revokes another's", "POST", "/v1/oauth/consents/gr_2/revoke", "tok-cust", 404},
		{"overlong id", "POST", "/v1/oauth/consents/" + strings.Repeat("g", 129) + "/revoke", "tok-staff", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr map[string]string
			if tc.tok != "" {
				hdr = bearer(tc.tok)
			}
			w := do(t, s, tc.method, tc.target, nil, hdr)
			if w.Code != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.target, w.Code, w.Body, tc.status)
			}
			if w.Code >= 400 {
				decodeProblem(t, w)
			}
			if tc.name == "customer revokes own" && (fc.subject != "cust-1" || fc.revoked != "gr_1") {
				t.Errorf("customer revocation asked subject %q id %q", fc.subject, fc.revoked)
			}
		})
	}
	if w := do(t, s, "GET", "/v1/oauth/consents", nil, nil); w.Code != http.StatusUnauthorized {
		t.Errorf("no token = %d", w.Code)
	}
}
