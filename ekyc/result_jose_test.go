package ekyc

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestResultValidatesWithGoJOSE: a third-party JWT library (go-jose v4)
// configured as the relying service would be — the issuer's JWKS, ES256,
// its own client_id as the expected audience — accepts the signed result;
// configured with the tenant id (the old aud) or another client it refuses.
func TestResultValidatesWithGoJOSE(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ss := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(7, 0.95) })
		jws, err := e.svc.Result(e.ctx, client, e.tenantA, ss.ID)
		if err != nil {
			t.Fatal(err)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(e.svc.JWKS(), &set); err != nil {
			t.Fatalf("JWKS: %v", err)
		}
		tok, err := jwt.ParseSigned(jws, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatalf("ParseSigned = %v", err)
		}
		keys := set.Key(tok.Headers[0].KeyID)
		if len(keys) != 1 {
			t.Fatalf("kid %q matches %d keys in the JWKS", tok.Headers[0].KeyID, len(keys))
		}
		var claims jwt.Claims
		if err := tok.Claims(keys[0].Key, &claims); err != nil {
			t.Fatalf("Claims = %v", err)
		}
		want := jwt.Expected{Issuer: e.svc.cfg.PublicURL, AnyAudience: jwt.Audience{client.ID}, Time: time.Now()}
		if err := claims.Validate(want); err != nil {
			t.Errorf("Validate(aud = client id %s) = %v, want nil", client.ID, err)
		}
		for _, aud := range []string{e.tenantA, "cl_other"} {
			want.AnyAudience = jwt.Audience{aud}
			if err := claims.Validate(want); !errors.Is(err, jwt.ErrInvalidAudience) {
				t.Errorf("Validate(aud = %s) = %v, want ErrInvalidAudience", aud, err)
			}
		}
	})
}
