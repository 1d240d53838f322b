package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
)

// TestJPKIVerifyOCSP runs 'jpki verify --ocsp' against a loopback responder.
func TestJPKIVerifyOCSP(t *testing.T) {
	p, card := testJPKICard(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	c, err := jpki.NewChallenge(rand.Reader, "s", "rp", "kyc", time.Now(), 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := card.SignRaw(ch)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{
		"--anchor", write("root.pem", jpkiPEMCert(p.Sign.Cert)), "--cert", write("card.pem", jpkiPEMCert(card.Cert)),
		"--challenge", write("ch.der", ch), "--signature", write("raw.sig", sig),
	}
	tests := []struct {
		name     string
		opts     jpkitest.ResponderOptions
		verified bool
		want     string
	}{
		{"good", jpkitest.ResponderOptions{}, true, `"method": "ocsp"`},
		{"revoked", jpkitest.ResponderOptions{Revoked: []*x509.Certificate{card.Cert}}, false, "certificate revoked"},
		{"no nonce", jpkitest.ResponderOptions{OmitNonce: true}, false, "without nonce"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(p.OCSPResponder(p.Sign, tc.opts))
			defer srv.Close()
			var out, errb bytes.Buffer
			e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
			err := runJPKIVerify(context.Background(), e, append([]string{"--ocsp", srv.URL}, args...))
			if (err == nil) != tc.verified {
				t.Fatalf("jpki verify --ocsp (%s) = %v, want verified=%v; stderr %s", tc.name, err, tc.verified, errb.String())
			}
			var got struct {
				Verified bool `json:"verified"`
			}
			if err := json.Unmarshal(out.Bytes(), &got); err != nil || got.Verified != tc.verified {
				t.Fatalf("output verified = %v (%v), want %v", got.Verified, err, tc.verified)
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out.String())
			}
		})
	}
}
