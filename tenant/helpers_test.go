package tenant

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// recorder is an Auditor for tests: it checks each entry against the audit
// package's rules (MarshalLeaf) and records it; with fail set, Append fails,
// which must roll back the change it was recording.
type recorder struct {
	mu      sync.Mutex
	entries []audit.Entry
	fail    bool
}

var errAuditDown = errors.New("audit unavailable")

func (r *recorder) Append(ctx context.Context, tx *store.Tx, e audit.Entry) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return 0, errAuditDown
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if _, err := audit.MarshalLeaf(e); err != nil {
		return 0, err
	}
	r.entries = append(r.entries, e)
	return uint64(len(r.entries) - 1), nil
}

func (r *recorder) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.entries {
		out = append(out, e.Action)
	}
	return out
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// signingKey is a client's private key with its public JWK.
type signingKey struct {
	alg  string
	kid  string
	priv crypto.Signer
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func testRSAKey(t testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

func newKey(t testing.TB, alg, kid string) signingKey {
	t.Helper()
	switch alg {
	case AlgES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return signingKey{alg, kid, k}
	case AlgEdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return signingKey{alg, kid, k}
	case AlgPS256:
		return signingKey{alg, kid, testRSAKey(t)}
	}
	t.Fatalf("newKey: alg %q", alg)
	return signingKey{}
}

func (k signingKey) jwk() map[string]any {
	m := map[string]any{"kid": k.kid}
	switch p := k.priv.Public().(type) {
	case *ecdsa.PublicKey:
		b, _ := p.Bytes()
		m["kty"], m["crv"], m["x"], m["y"] = "EC", "P-256", b64.EncodeToString(b[1:33]), b64.EncodeToString(b[33:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64.EncodeToString(p)
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64.EncodeToString(p.N.Bytes()), "AQAB"
	}
	return m
}

func jwksOf(keys ...signingKey) string {
	var list []map[string]any
	for _, k := range keys {
		list = append(list, k.jwk())
	}
	b, _ := json.Marshal(map[string]any{"keys": list})
	return string(b)
}

// sign produces a compact JWS over payload with header h (alg and kid filled
// from k unless set).
func (k signingKey) sign(t testing.TB, h map[string]any, payload []byte) string {
	t.Helper()
	if h == nil {
		h = map[string]any{}
	}
	if _, ok := h["alg"]; !ok {
		h["alg"] = k.alg
	}
	if _, ok := h["kid"]; !ok {
		h["kid"] = k.kid
	}
	for m, v := range h {
		if v == nil || v == "" {
			delete(h, m) // nil or "": leave the member out (raw headers test null)
		}
	}
	hb, _ := json.Marshal(h)
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(payload)
	d := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	switch p := k.priv.(type) {
	case *ecdsa.PrivateKey:
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, p, d[:])
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(p, []byte(input))
	case *rsa.PrivateKey:
		sig, err = rsa.SignPSS(rand.Reader, p, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

const (
	testIssuer   = "https://madoguchi.example"
	testTokenURL = "https://madoguchi.example/v1/oauth/token"
)

// claims returns a valid assertion claims set for clientID at now.
func claims(clientID string, now time.Time) map[string]any {
	return map[string]any{
		"iss": clientID, "sub": clientID, "aud": testIssuer,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": rand.Text(),
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// selfSigned returns a self-signed client certificate valid around now.
func selfSigned(t testing.TB, now time.Time) (*x509.Certificate, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "client"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// fixture is a migrated store with a registry, an issuer and a clock.
type fixture struct {
	db    *store.DB
	rec   *recorder
	reg   *Registry
	iss   *Issuer
	clock *clock
	admin Actor
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	f := &fixture{db: db, rec: &recorder{}, clock: &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}}
	f.reg = NewRegistry(db, f.rec)
	f.reg.now = f.clock.Now
	iss, err := NewIssuer(db, f.rec, IssuerConfig{Audiences: []string{testIssuer, testTokenURL}, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.iss = iss
	f.admin = Actor{Kind: audit.ActorStaff, ID: "st_admin", OSUser: "operator"}
	return f
}

func (f *fixture) tenant(t *testing.T, name string) Tenant {
	t.Helper()
	tn, err := f.reg.CreateTenant(context.Background(), f.admin, name)
	if err != nil {
		t.Fatalf("CreateTenant(%q) = %v", name, err)
	}
	return tn
}

func (f *fixture) client(t *testing.T, tenantID string, spec ClientSpec) Client {
	t.Helper()
	var c Client
	err := f.db.InTx(context.Background(), func(tx *store.Tx) error {
		var err error
		c, err = f.reg.CreateClientTx(context.Background(), tx, f.admin, tenantID, spec)
		return err
	})
	if err != nil {
		t.Fatalf("CreateClientTx(%q) = %v", spec.Name, err)
	}
	return c
}
