package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
)

// selfSigned makes a self-signed certificate (P-256) for cn and the given
// IP addresses.
func selfSigned(t *testing.T, cn string, ips ...net.IP) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	c, err := tls.X509KeyPair(pemCert, pemKey)
	if err != nil {
		t.Fatal(err)
	}
	return c, pemCert
}

// TestMutualTLSBoundTokens runs the server over TLS: a client registered by
// its certificate (RFC 8705 self_signed_tls_client_auth) gets a token bound
// to that certificate; the token is refused without the certificate and with
// another one, and another certificate cannot obtain a token.
func TestMutualTLSBoundTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	serverCert, serverPEM := selfSigned(t, "madoguchi test server", net.ParseIP("127.0.0.1"))
	certFile, keyFile := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	if err := os.WriteFile(certFile, serverPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(serverCert.PrivateKey)
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, dir, "--tls-cert", certFile, "--tls-key", keyFile)
	base := "https://" + srv.addr

	a := testApp(t, dir)
	op := tenant.Actor{Kind: "system", ID: "e2e-test"}
	ten, err := a.tenants.CreateTenant(ctx, op, "TLS Bank")
	if err != nil {
		t.Fatal(err)
	}
	clientCert, clientPEM := selfSigned(t, "tls bank client")
	otherCert, _ := selfSigned(t, "somebody else")
	var cl tenant.Client
	if err := a.db.InTx(ctx, func(tx *store.Tx) error {
		cl, err = a.tenants.CreateClientTx(ctx, tx, op, ten.ID, tenant.ClientSpec{Name: "tls client", Scopes: []string{"audit:read"}, CertPEM: string(clientPEM)})
		return err
	}); err != nil {
		t.Fatal(err)
	}

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(serverPEM)
	clientFor := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12},
		}}
	}
	token := func(hc *http.Client) (int, string) {
		resp, err := hc.PostForm(base+"/v1/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {cl.ID}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tr struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&tr)
		return resp.StatusCode, tr.AccessToken
	}
	whoami := func(hc *http.Client, tok string) int {
		req, _ := http.NewRequest("GET", base+"/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	mine, other, none := clientFor(clientCert), clientFor(otherCert), clientFor()
	if code, _ := token(other); code != 401 {
		t.Errorf("token with another certificate = %d, want 401", code)
	}
	if code, _ := token(none); code != 401 {
		t.Errorf("token without a certificate = %d, want 401", code)
	}
	code, tok := token(mine)
	if code != 200 || tok == "" {
		t.Fatalf("token with the registered certificate = %d", code)
	}
	if got := whoami(mine, tok); got != 200 {
		t.Errorf("bound token with its certificate = %d, want 200", got)
	}
	if got := whoami(none, tok); got != 401 {
		t.Errorf("bound token without a certificate = %d, want 401", got)
	}
	if got := whoami(other, tok); got != 401 {
		t.Errorf("bound token with another certificate = %d, want 401", got)
	}
	// Plain HTTP on the TLS port is refused by the TLS layer.
	if resp, err := http.Get("http://" + srv.addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP on the TLS listener answered 200")
		}
	}
	if code := srv.stop(t); code != 0 {
		t.Errorf("exit = %d", code)
	}
}
