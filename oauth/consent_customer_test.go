package oauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestCustomerRevokesOwnConsent: a customer revokes their own consent and
// no one else's; tenant staff of another tenant see nothing; the record
// says who revoked, by pseudonym.
func TestCustomerRevokesOwnConsent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		c := e.partner(e.tenant)
		at := e.tokens(c, newDPoPKey(t))["access_token"].(string) // cust-1
		ti, err := e.srv.readToken(ctx, sha256.Sum256([]byte(at)))
		if err != nil {
			t.Fatal(err)
		}
		mine := ti.grantID
		r := e.post(PathPAR, merge(e.clientAuth(c), parParams(testVerifier)), nil)
		e.customer(c.id, r.body["request_uri"].(string), "cust-2")
		staff := Viewer{Kind: audit.ActorStaff, ID: "st1"}
		theirs, err := e.srv.Consents(ctx, staff, e.tenant, ConsentFilter{Subject: "cust-2"})
		if err != nil || len(theirs) != 1 {
			t.Fatalf("Consents(cust-2) = %d, %v", len(theirs), err)
		}

		cust1 := CustomerViewer(e.tenant, "cust-1")
		if err := e.srv.RevokeCustomerConsent(ctx, cust1, e.tenant, "cust-1", theirs[0].ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("RevokeCustomerConsent(another customer's) = %v, want ErrNotFound", err)
		}
		if err := e.srv.RevokeCustomerConsent(ctx, cust1, e.tenant, "", mine); !errors.Is(err, ErrNotFound) {
			t.Errorf("RevokeCustomerConsent(no subject) = %v, want ErrNotFound", err)
		}
		if err := e.srv.RevokeConsent(ctx, staff, "tn_other", mine); !errors.Is(err, ErrNotFound) {
			t.Errorf("RevokeConsent(another tenant) = %v, want ErrNotFound", err)
		}
		if err := e.srv.RevokeCustomerConsent(ctx, cust1, e.tenant, "cust-1", mine); err != nil {
			t.Fatalf("RevokeCustomerConsent(own) = %v", err)
		}
		got, err := e.srv.Consents(ctx, cust1, e.tenant, ConsentFilter{Subject: "cust-1"})
		if err != nil || len(got) != 1 || got[0].Status != ConsentRevoked || !strings.HasPrefix(got[0].RevokedBy, "customer:cust:") || strings.Contains(got[0].RevokedBy, "cust-1") {
			t.Fatalf("Consents(cust-1) after revocation = %+v, %v; want revoked by the customer's pseudonym", got, err)
		}
		if still, _ := e.srv.Consents(ctx, staff, e.tenant, ConsentFilter{Subject: "cust-2"}); len(still) != 1 || still[0].Status != ConsentActive {
			t.Errorf("cust-2's consent after cust-1's attempts = %+v, want active", still)
		}
	})
}
