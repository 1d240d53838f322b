package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/madoguchi/madoguchi/oauth"
)

// TestOAuthWireModes: every mode has the one token endpoint and the one
// metadata document. Production, with no customer authenticator wired
// yet, offers client_credentials only (no signing key needed, none
// created) and advertises the mutual-TLS methods only when the server
// terminates TLS.
func TestOAuthWireModes(t *testing.T) {
	ctx := context.Background()
	a, err := openApp(ctx, modeDevelopment, dataFlags{data: t.TempDir()}, slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	const base = "https://bank.example"
	if err := a.newIssuer(base, 0); err != nil {
		t.Fatal(err)
	}
	if err := a.newOAuth(base, false); err != nil {
		t.Fatalf("newOAuth(development) = %v", err)
	}
	if g := a.oauth.Metadata()["grant_types_supported"].([]string); !slices.Contains(g, oauth.GrantAuthorizationCode) {
		t.Errorf("development grant_types_supported = %v, want the customer grants", g)
	}
	pdir := t.TempDir()
	for _, tc := range []struct {
		mtls bool
		want []string
	}{
		{false, []string{"private_key_jwt"}},
		{true, []string{"private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth"}},
	} {
		p := &app{mode: modeProduction, data: dataFlags{data: pdir}, log: a.log, db: a.db, audit: a.audit, vault: a.vault, issuer: a.issuer}
		if err := p.newOAuth(base, tc.mtls); err != nil {
			t.Fatalf("newOAuth(production, mtls %v) = %v", tc.mtls, err)
		}
		m := p.oauth.Metadata()
		if g := m["grant_types_supported"].([]string); !slices.Equal(g, []string{oauth.GrantClientCredentials}) {
			t.Errorf("production grant_types_supported = %v, want client_credentials only", g)
		}
		if got := m["token_endpoint_auth_methods_supported"].([]string); !slices.Equal(got, tc.want) {
			t.Errorf("production (mtls %v) auth methods = %v, want %v", tc.mtls, got, tc.want)
		}
		if _, ok := m["authorization_endpoint"]; ok || m["token_endpoint"] != base+oauth.PathToken || len(p.oauth.Routes()) != 3 {
			t.Errorf("production metadata = %v, %d routes; want the token endpoint and the metadata only", m, len(p.oauth.Routes()))
		}
	}
	if _, err := os.Stat(filepath.Join(pdir, "keys", "oauth-signer.key")); !os.IsNotExist(err) {
		t.Errorf("production created a signing key (%v)", err)
	}
}
