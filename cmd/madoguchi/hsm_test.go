//go:build cgo

package main

// The issuer key and a branch device's HPKE key held in a PKCS#11 token
// (real SoftHSM2): `serve --credential-issuer-key pkcs11:…` and
// `branch init --hpke-key pkcs11:…` / `branch serve` start with them, and
// fail closed, naming what is wrong, without them.

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/internal/hsm"
	"github.com/madoguchi/madoguchi/internal/hsm/hsmtest"
)

// hsmURIWith returns uri with f applied.
func hsmURIWith(t *testing.T, uri string, f func(*hsm.URI)) string {
	t.Helper()
	u, err := hsm.ParseURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	f(&u)
	return u.String()
}

func TestPKCS11CredentialIssuerKey(t *testing.T) {
	tk := hsmtest.New(t, "madoguchi-server")
	uri := tk.Generate(t, "credential-issuer", hsm.ECDSAP256)
	derive := tk.Generate(t, "not-a-signer", hsm.ECDHP256)
	wrongPIN := filepath.Join(t.TempDir(), "wrong.pin")
	os.WriteFile(wrongPIN, []byte("00000000\n"), 0o600)
	log := slog.New(slog.DiscardHandler)

	// In process: the key opens (what stops startCredential then is the
	// missing transaction authentication, as with a file key), and each
	// wrong setting is a start-up error naming the cause, never the PIN.
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		ref  string
		want error
		text string
	}{
		{"key in the token", uri, nil, "transaction authentication"},
		{"wrong PIN", hsmURIWith(t, uri, func(u *hsm.URI) { u.PINFile = wrongPIN }), hsm.ErrPIN, "CKR_PIN_INCORRECT"},
		{"missing key", tk.URI("no-such-key"), hsm.ErrKeyNotFound, "no-such-key"},
		{"wrong key type", derive, hsm.ErrKeyType, "CKA_SIGN"},
		{"module path not found", hsmURIWith(t, uri, func(u *hsm.URI) { u.ModulePath = "/nonexistent/libhsm.so" }), hsm.ErrModule, "/nonexistent/libhsm.so"},
		{"malformed URI", "pkcs11:token=x", hsm.ErrURI, "no query attributes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &app{mode: modeProduction, data: dataFlags{data: dir, credentialKey: tc.ref}, log: log}
			defer a.Close()
			err := a.startCredential()
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), tc.text) || len(a.hsmKeys) != 1 {
					t.Fatalf("startCredential(%s) = %v with %d HSM keys; want the key open and %q", tc.name, err, len(a.hsmKeys), tc.text)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) || strings.Contains(err.Error(), tk.PIN) {
				t.Fatalf("startCredential(%s) = %v, want %v naming %q (and no PIN)", tc.name, err, tc.want, tc.text)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "credential-issuer.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key file was written beside the HSM key: %v", err)
	}

	if testing.Short() {
		t.Log("-short: the server processes below are skipped")
		return
	}
	// A server process publishes the token key as the issuer key.
	s, err := hsm.OpenSigner(uri)
	if err != nil {
		t.Fatal(err)
	}
	want, err := credential.ExportKey(s.Public().(*ecdsa.PublicKey))
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, t.TempDir(), "--credential-issuer-key", uri)
	resp, err := http.Get(srv.url() + "/v1/credential/issuer-keys")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Keys []credential.PublicKeyJSON `json:"keys"`
	}
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil || len(got.Keys) != 1 || got.Keys[0].Kid != want.Kid || !bytes.Equal(got.Keys[0].SPKI, want.SPKI) {
		t.Fatalf("GET /v1/credential/issuer-keys = %+v, %v; want the token key %s", got, err, want.Kid)
	}
	if code := srv.stop(t); code != 0 {
		t.Fatalf("server exit code %d", code)
	}

	// A server whose token refuses the PIN does not start.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--models-install", "off",
		"--credential-issuer-key", hsmURIWith(t, uri, func(u *hsm.URI) { u.PINFile = wrongPIN }))
	cmd.Env = append(os.Environ(), "MADOGUCHI_TEST_EXEC_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "CKR_PIN_INCORRECT") || strings.Contains(string(out), tk.PIN) {
		t.Fatalf("serve with a wrong PIN = %v\n%s\nwant a start-up error naming CKR_PIN_INCORRECT", err, out)
	}
}

func TestPKCS11BranchDeviceKey(t *testing.T) {
	models := e2eModels(t)
	eng, err := loadEngine(&engineFlags{dir: models, detector: "blazeface", recognizer: face.DefaultRecognizer, align: "auto", zoomOut: true})
	if err != nil {
		t.Fatal(err)
	}
	tk := hsmtest.New(t, "madoguchi-branch")
	uri := tk.Generate(t, "device-hpke", hsm.ECDHP256)
	signer := tk.Generate(t, "a-signing-key", hsm.ECDSAP256)

	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	dir := t.TempDir()
	if err := runBranch(context.Background(), e, []string{"init", "--data", dir, "--name", "test", "--hpke-key", uri}); err != nil {
		t.Fatalf("branch init --hpke-key: %v (%s)", err, errb.String())
	}
	pub, _, err := credential.ParseEnrolmentCode(strings.TrimSpace(out.String()))
	if err != nil || pub.Curve() != ecdh.P256() {
		t.Fatalf("enrolment code key = %v, %v; want the token's P-256 key", pub, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, branchHPKEURI)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, want a 0600 file", branchHPKEURI, err)
	}
	if _, err := os.Stat(filepath.Join(dir, branchHPKEKey)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s written beside the HSM key: %v", branchHPKEKey, err)
	}
	if err := runBranch(context.Background(), e, []string{"init", "--data", dir, "--hpke-key", uri}); err == nil || !strings.Contains(err.Error(), "already holds device keys") {
		t.Fatalf("branch init twice = %v", err)
	}
	if err := runBranch(context.Background(), e, []string{"init", "--data", t.TempDir(), "--hpke-key", signer}); !errors.Is(err, hsm.ErrKeyType) {
		t.Fatalf("branch init --hpke-key (a signing key) = %v, want ErrKeyType", err)
	}

	// The counter starts in production on a cached bundle whose branch key
	// is wrapped to the token key: ready means it unwrapped through the token.
	f := newBranchFixture(t, eng.Model())
	f.dir = dir
	raw, _ := json.Marshal(f.bundle(t, f.statusList(t, time.Now(), 72*time.Hour, 0, 8)))
	f.cache(t, raw)
	url, err := runBranchServe(t, f, models, "--mode", "production", "--server", "http://127.0.0.1:1")
	if err != nil {
		t.Fatalf("branch serve with an HSM device key: %v", err)
	}
	if st := branchStatus(t, url); !st.Ready {
		t.Fatalf("status = %+v, want ready", st)
	}

	// Fail closed: each is a start-up error naming the cause. (The running
	// counter keeps the token logged in, so a wrong PIN is refused by this
	// process, before the token sees it.)
	wrongPIN := filepath.Join(t.TempDir(), "wrong.pin")
	os.WriteFile(wrongPIN, []byte("00000000\n"), 0o600)
	for _, tc := range []struct {
		name string
		uri  string // device-hpke.uri ("": also a device-hpke.key)
		want string
	}{
		{"wrong PIN", hsmURIWith(t, uri, func(u *hsm.URI) { u.PINFile = wrongPIN }), "PIN refused"},
		{"missing key", tk.URI("gone"), "key not found"},
		{"module path not found", hsmURIWith(t, uri, func(u *hsm.URI) { u.ModulePath = "/nonexistent/libhsm.so" }), "/nonexistent/libhsm.so"},
		{"both a URI and a key file", "", "keep the one the device was enrolled with"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := *f
			g.dir = t.TempDir()
			u := tc.uri
			if u == "" {
				u = uri
				os.WriteFile(filepath.Join(g.dir, branchHPKEKey), []byte("x"), 0o600)
			}
			os.WriteFile(filepath.Join(g.dir, branchHPKEURI), []byte(u+"\n"), 0o600)
			_, err := runBranchServe(t, &g, models)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tk.PIN) {
				t.Fatalf("branch serve = %v, want a start-up error naming %q", err, tc.want)
			}
		})
	}
}

// TestPKCS11Generate: `madoguchi hsm generate` makes keys in the token that
// serve and branch then open, prints the issuer kid and public key, and
// never replaces a key.
func TestPKCS11Generate(t *testing.T) {
	tk := hsmtest.New(t, "madoguchi-generate")
	run := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
		err := runHSM(context.Background(), e, args)
		return out.String(), err
	}
	issuer := tk.URI("credential-issuer")
	out, err := run("generate", "--key", issuer, "--alg", "es256")
	if err != nil {
		t.Fatalf("hsm generate es256: %v", err)
	}
	a := &app{mode: modeProduction, data: dataFlags{data: t.TempDir(), credentialKey: issuer}, log: slog.New(slog.DiscardHandler)}
	defer a.Close()
	if err := a.startCredential(); err == nil || !strings.Contains(err.Error(), "transaction authentication") || len(a.hsmKeys) != 1 {
		t.Fatalf("startCredential(generated key) = %v", err)
	}
	key, err := a.credentialIssuerKey()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "kid "+key.Kid()+"\n-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("hsm generate es256 printed %q, want kid %s and the public key", out, key.Kid())
	}
	device := tk.URI("device-hpke")
	if out, err := run("generate", "--key", device, "--alg", "ecdh-p256"); err != nil || !strings.HasPrefix(out, "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("hsm generate ecdh-p256 = %q, %v", out, err)
	}
	var o, eb bytes.Buffer
	if err := runBranch(context.Background(), &env{stdout: &o, stderr: &eb, getenv: func(string) string { return "" }},
		[]string{"init", "--data", t.TempDir(), "--hpke-key", device}); err != nil {
		t.Fatalf("branch init with the generated key: %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"generate", "--key", issuer, "--alg", "es256"}, "exists already"},
		{[]string{"generate", "--key", tk.URI("x"), "--alg", "rsa"}, "want es256 or ecdh-p256"},
		{[]string{"generate", "--alg", "es256"}, "--key is required"},
		{[]string{"generate", "--key", "pkcs11:token=x", "--alg", "es256"}, "bad PKCS#11 key URI"},
		{[]string{"list"}, "want generate"},
	} {
		if _, err := run(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("hsm %v = %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestPKCS11Doctor: doctor opens an HSM issuer key as serve will, and
// reports a refused PIN as a failure naming the URI (which holds no PIN).
func TestPKCS11Doctor(t *testing.T) {
	tk := hsmtest.New(t, "madoguchi-doctor")
	uri := tk.Generate(t, "credential-issuer", hsm.ECDSAP256)
	wrongPIN := filepath.Join(t.TempDir(), "wrong.pin")
	os.WriteFile(wrongPIN, []byte("00000000\n"), 0o600)
	bad := hsmURIWith(t, uri, func(u *hsm.URI) { u.PINFile = wrongPIN })
	for _, tc := range []struct {
		uri    string
		key    string
		status checkStatus
	}{{uri, "keys.hsm.ok", statusOK}, {bad, "keys.hsm.bad", statusFail}} {
		d := &doctor{mode: modeProduction, data: dataFlags{data: t.TempDir(), credentialKey: tc.uri}}
		var got *finding
		for _, f := range d.checkKeyFiles(context.Background()) {
			if f.subject == "credential-issuer.key" {
				got = &f
			}
		}
		if got == nil || got.key != tc.key || got.status != tc.status || got.args[0] != tc.uri {
			t.Fatalf("doctor finding for the HSM issuer key = %+v, want %s", got, tc.key)
		}
		if msg := fmt.Sprint(got.args...); strings.Contains(msg, tk.PIN) {
			t.Fatalf("doctor finding %q carries the PIN", msg)
		}
	}
}
