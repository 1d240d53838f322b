package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/signin"
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

// TestOAuthWireProductionCustomers: with transaction authentication
// running, production's customer step is package signin, and the ID-token
// key must have been provisioned (never generated). The metadata then
// advertises the authorization-code and CIBA grants and signin's acr
// values.
func TestOAuthWireProductionCustomers(t *testing.T) {
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
	if _, err := a.newNotifier(); err != nil {
		t.Fatal(err)
	}
	if a.ekyc, err = a.newEKYC(base); err != nil {
		t.Fatal(err)
	}
	if a.txauth, err = a.newTxAuth(base); err != nil {
		t.Fatal(err)
	}
	pdir := t.TempDir()
	p := &app{mode: modeProduction, data: dataFlags{data: pdir}, log: a.log, db: a.db, audit: a.audit, vault: a.vault, issuer: a.issuer,
		ekyc: a.ekyc, txauth: a.txauth, notify: a.notify, resultSigner: a.resultSigner}
	if err := p.newOAuth(base, false); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "oauth-signer.key") {
		t.Fatalf("newOAuth(production, txauth, no key) = %v, want the missing oauth-signer.key", err)
	}
	if _, err := os.Stat(filepath.Join(pdir, "keys", "oauth-signer.key")); !os.IsNotExist(err) {
		t.Fatalf("production created a signing key (%v)", err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	if err := os.MkdirAll(filepath.Join(pdir, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pdir, "keys", "oauth-signer.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.newOAuth(base, false); err != nil {
		t.Fatalf("newOAuth(production, txauth, key) = %v", err)
	}
	m := p.oauth.Metadata()
	g := m["grant_types_supported"].([]string)
	if !slices.Contains(g, oauth.GrantAuthorizationCode) || !slices.Contains(g, oauth.GrantCIBA) || m["backchannel_authentication_endpoint"] != base+oauth.PathCIBA {
		t.Errorf("production grant_types_supported = %v (ciba endpoint %v), want the code and CIBA grants", g, m["backchannel_authentication_endpoint"])
	}
	if acr := m["acr_values_supported"].([]string); !slices.Contains(acr, signin.ACRLinked) || slices.Contains(acr, oauth.ACRDev) {
		t.Errorf("production acr_values_supported = %v, want signin's, not the development acr", acr)
	}
}
