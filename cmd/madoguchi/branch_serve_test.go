package main

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
)

// branchFixture is what the server makes for one branch device, made here
// with the real key types: an issuer key, the tenant's branch key, the
// device's own keys (`madoguchi branch init`) and the bundle it caches.
type branchFixture struct {
	dir    string // the device's data folder
	device string
	tenant string
	issuer *credential.IssuerKey
	pub    credential.PublicKeyJSON
	branch *ecdh.PrivateKey
	model  string
}

const fixtureIssuer = "madoguchi.local"

func newBranchFixture(t *testing.T, model string) *branchFixture {
	t.Helper()
	dir := t.TempDir()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	if err := runBranch(context.Background(), e, []string{"init", "--data", dir, "--name", "test"}); err != nil {
		t.Fatalf("branch init: %v (%s)", err, errb.String())
	}
	ik, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := credential.NewIssuerKey(ik)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := credential.ExportKey(iss.Public())
	if err != nil {
		t.Fatal(err)
	}
	bk, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &branchFixture{dir: dir, device: "bdv_test", tenant: "tnt_a", issuer: iss, pub: pub, branch: bk, model: model}
}

// statusList signs the tenant's status list: n credentials, revoked ones set.
func (f *branchFixture) statusList(t *testing.T, issued time.Time, ttl time.Duration, seq uint64, n int, revoked ...uint32) []byte {
	t.Helper()
	bits := make([]byte, (n+7)/8)
	for _, i := range revoked {
		bits[i/8] |= 1 << (i % 8)
	}
	b, err := credential.SignStatusList(f.issuer, credential.StatusList{Issuer: fixtureIssuer, Tenant: f.tenant,
		IssuedAt: issued.Unix(), Expiry: issued.Add(ttl).Unix(), Seq: seq, Bits: bits})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bundle is the device's trust with the given status list, its branch key
// wrapped to the device's own HPKE key.
func (f *branchFixture) bundle(t *testing.T, status []byte) *credential.Bundle {
	t.Helper()
	hk, _, _, err := loadBranchKeys(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := hk.(io.Closer); ok { // a key in an HSM
		defer c.Close()
	}
	wrapped, err := credential.WrapBranchKey(hk.PublicKey(), f.tenant, f.device, 1, f.branch)
	if err != nil {
		t.Fatal(err)
	}
	return &credential.Bundle{Device: f.device, Tenant: f.tenant, Issuer: fixtureIssuer, IssuerKeys: []credential.PublicKeyJSON{f.pub},
		StatusList: status, BranchKeys: []credential.WrappedKey{{Version: 1, Wrapped: wrapped}},
		// The relaxed test policy of TestBranchDecisionRealEngine: the
		// faces are photographs, which MiniFAS tells (0.19), so it has its
		// own threshold of 0.1 (docs/face-pad.md).
		Policy: &credential.BranchPolicy{Model: f.model, Threshold: 0.9, TargetFMR: 1e-4, Consistency: 0.5, MinPAD: 0.4,
			PAD: ekyc.PADThresholds{MiniFAS: new(0.1)}, YawThreshold: 0.25, EARClosed: 0.235, EAROpen: 0.25, ChallengeSteps: 3, MinFrames: 4}}
}

func (f *branchFixture) cache(t *testing.T, raw []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, branchBundle), raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue signs a credential of tenant carrying tpl (quantised, sealed to
// the fixture's branch key), valid from issued for ttl.
func (f *branchFixture) issue(t *testing.T, tenant string, tpl face.Template, issued time.Time, ttl time.Duration, index uint32) *credential.Issued {
	t.Helper()
	compact, err := credential.Compact(tpl)
	if err != nil {
		t.Fatal(err)
	}
	cti := make([]byte, 16)
	if _, err := rand.Read(cti); err != nil {
		t.Fatal(err)
	}
	c, err := credential.Sign(f.issuer, credential.Claims{Issuer: fixtureIssuer, Subject: "sub_test", IssuedAt: issued.Unix(),
		Expiry: issued.Add(ttl).Unix(), CTI: cti, Tenant: tenant, Model: tpl.Model(), StatusIndex: index}, f.branch.PublicKey(), 1, compact)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// syncBuffer is an io.Writer read while a command runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runBranchServe starts `madoguchi branch serve` with args; it returns the
// page's URL once it listens, or the command's error if it stops first.
func runBranchServe(t *testing.T, f *branchFixture, models string, extra ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	args := append([]string{"serve", "--branch-data", f.dir, "--device", f.device, "--issuer-kid", f.pub.Kid,
		"--models", models, "--listen", "127.0.0.1:0"}, extra...)
	done := make(chan error, 1)
	go func() { done <- runBranch(ctx, e, args) }()
	listening := regexp.MustCompile(`branch verifier on (http://\S+/)`)
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		select {
		case err := <-done:
			cancel()
			return "", err
		case <-time.After(50 * time.Millisecond):
		}
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("branch serve stopped with %v", err)
				}
			})
			return m[1], nil
		}
	}
	cancel()
	t.Fatalf("branch serve neither listened nor stopped in 2 minutes; stderr: %s", errb.String())
	return "", nil
}

func branchStatus(t *testing.T, url string) credential.CounterStatus {
	t.Helper()
	resp, err := http.Get(url + "api/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Counter credential.CounterStatus `json:"counter"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Counter
}

// TestBranchServeFailsClosed: in production a counter without usable trust
// (no status list, an expired one, a cached bundle that does not verify,
// no server to refresh from) does not start; in development it starts and
// refuses everything, saying so.
func TestBranchServeFailsClosed(t *testing.T) {
	models := e2eModels(t)
	eng, err := loadEngine(&engineFlags{dir: models, detector: "blazeface", recognizer: face.DefaultRecognizer, align: "auto", zoomOut: true})
	if err != nil {
		t.Fatal(err)
	}
	model := eng.Model()
	unreachable := "http://127.0.0.1:1" // nothing listens on port 1
	now := time.Now()
	tests := []struct {
		name  string
		cache func(t *testing.T, f *branchFixture)
		args  []string
		want  string // "" starts; otherwise in the start-up error
		ready bool
	}{
		{"production without a server", nil, []string{"--mode", "production"}, "needs --server", false},
		{"unknown mode", nil, []string{"--mode", "prod"}, "want development or production", false},
		{"production, no cached trust, server unreachable", nil, []string{"--mode", "production", "--server", unreachable}, "no status list", false},
		{"production, expired status list, server unreachable", func(t *testing.T, f *branchFixture) {
			raw, _ := json.Marshal(f.bundle(t, f.statusList(t, now.Add(-80*time.Hour), 72*time.Hour, 0, 8)))
			f.cache(t, raw)
		}, []string{"--mode", "production", "--server", unreachable}, "the status list has expired", false},
		{"production, tampered cached bundle", func(t *testing.T, f *branchFixture) {
			st := f.statusList(t, now, 72*time.Hour, 0, 8)
			st[len(st)-1] ^= 1 // the signature's last byte
			raw, _ := json.Marshal(f.bundle(t, st))
			f.cache(t, raw)
		}, []string{"--mode", "production", "--server", unreachable}, "cached trust bundle", false},
		{"production, cached bundle of another device", func(t *testing.T, f *branchFixture) {
			b := f.bundle(t, f.statusList(t, now, 72*time.Hour, 0, 8))
			b.Device = "bdv_other"
			raw, _ := json.Marshal(b)
			f.cache(t, raw)
		}, []string{"--mode", "production", "--server", unreachable}, "cached trust bundle", false},
		{"production, policy for another model", func(t *testing.T, f *branchFixture) {
			b := f.bundle(t, f.statusList(t, now, 72*time.Hour, 0, 8))
			b.Policy.Model = "resnet128@elsewhere"
			raw, _ := json.Marshal(b)
			f.cache(t, raw)
		}, []string{"--mode", "production", "--server", unreachable}, "no branch policy for the model", false},
		{"production, valid cached trust, server unreachable", func(t *testing.T, f *branchFixture) {
			raw, _ := json.Marshal(f.bundle(t, f.statusList(t, now, 72*time.Hour, 0, 8)))
			f.cache(t, raw)
		}, []string{"--mode", "production", "--server", unreachable}, "", true},
		{"development, no cached trust", nil, []string{"--server", unreachable}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newBranchFixture(t, model)
			if tc.cache != nil {
				tc.cache(t, f)
			}
			url, err := runBranchServe(t, f, models, tc.args...)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("branch serve %v = %v, want an error containing %q", tc.args, err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("branch serve %v = %v, want it to start", tc.args, err)
			}
			if st := branchStatus(t, url); st.Ready != tc.ready {
				t.Fatalf("status ready = %v, want %v (%+v)", st.Ready, tc.ready, st)
			}
		})
	}
}

// TestCredentialIssuerKeyProduction: a production server does not start
// without the credential issuer key (it used to start with credentials
// off), nor with a key file others can read; development creates one.
func TestCredentialIssuerKeyProduction(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	pdir := t.TempDir()
	p := &app{mode: modeProduction, data: dataFlags{data: pdir}, log: log}
	err := p.startCredential()
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "production mode") {
		t.Fatalf("startCredential(production, no key) = %v, want a production-mode fs.ErrNotExist", err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	path := filepath.Join(pdir, "keys", "credential-issuer.key")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.startCredential(); !errors.Is(err, credential.ErrKeyFileMode) {
		t.Fatalf("startCredential(production, 0644 key) = %v, want ErrKeyFileMode", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	// The key loads; what stops it now is the missing transaction authentication.
	if err := p.startCredential(); err == nil || !strings.Contains(err.Error(), "transaction authentication") || p.credential != nil {
		t.Fatalf("startCredential(production, key, no txauth) = %v, want the txauth error", err)
	}
	d := &app{mode: modeDevelopment, data: dataFlags{data: t.TempDir()}, log: log}
	if err := os.MkdirAll(d.data.keysDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	_ = d.startCredential()
	if fi, err := os.Stat(filepath.Join(d.data.keysDir(), "credential-issuer.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("development issuer key: %v; want a 0600 file", err)
	}
}
