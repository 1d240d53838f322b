package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
)

// TestDevJPKISession runs 'dev jpki init' on a development data directory,
// a ワ session to approved against a real server (raw and CMS), then
// revokes the test card with 'dev jpki crl --revoke' and shows the next
// session rejected with jpki.revoked, without a restart.
func TestDevJPKISession(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	ctx := context.Background()
	dir := t.TempDir()
	// Initialise the development data directory (keys and marker).
	a, err := openApp(ctx, modeDevelopment, dataFlags{data: dir}, slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()

	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	if err := runDev(ctx, e, []string{"jpki", "init", "--data", dir, "--name", "検証　花子", "--birthdate", "2001-04-05",
		"--sex", "female", "--address", "大阪府大阪市北区１－２－３"}); err != nil {
		t.Fatalf("dev jpki init = %v (%s)", err, errb.String())
	}
	for _, n := range devJPKINames {
		fi, err := os.Stat(filepath.Join(dir, "keys", devJPKIDir, n+".key"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s.key mode = %v, want 0600", n, fi.Mode().Perm())
		}
	}
	if err := runDev(ctx, e, []string{"jpki", "init", "--data", dir}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("dev jpki init (again, no --force) = %v, want a refusal naming --force", err)
	}

	srv := startServer(t, dir, "--rate-limit", "0")
	session := func(form string) *devSessionResult {
		t.Helper()
		out.Reset()
		err := runDev(ctx, e, []string{"session", "--server", srv.url(), "--data", dir, "--method", "wa", "--form", form})
		var res devSessionResult
		if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
			t.Fatalf("dev session --method wa --form %s = %v, output not JSON: %v\n%s", form, err, jerr, errb.String())
		}
		if err != nil {
			t.Fatalf("dev session --method wa --form %s = %v\n%s", form, err, srv.logText())
		}
		return &res
	}

	for _, form := range []string{"raw", "cms"} {
		res := session(form)
		if res.Decision != string(ekyc.OutcomeApproved) || len(res.Reasons) != 0 {
			t.Fatalf("session (%s) = %s %v, want approved with no reasons", form, res.Decision, res.Reasons)
		}
		var payload map[string]any
		if err := json.Unmarshal(res.Result, &payload); err != nil {
			t.Fatalf("result payload: %v", err)
		}
		// The verified claims carry the init flags' attributes.
		got := string(res.Result)
		for _, want := range []string{"検証　花子", "2001-04-05", "female", "大阪府大阪市北区１－２－３", res.Session, "electronic_signature"} {
			if !strings.Contains(got, want) {
				t.Errorf("result (%s) lacks %q", form, want)
			}
		}
	}

	out.Reset()
	if err := runDev(ctx, e, []string{"jpki", "crl", "--data", dir, "--revoke"}); err != nil {
		t.Fatalf("dev jpki crl --revoke = %v", err)
	}
	// The server notices a changed folder by names, sizes and times; make
	// sure the time differs even on a coarse file system clock.
	later := time.Now().Add(2 * time.Second)
	for _, n := range []string{"dev_sign.crl", "dev_auth.crl"} {
		if err := os.Chtimes(filepath.Join(dir, "trust", jpkiCRLDir, n), later, later); err != nil {
			t.Fatal(err)
		}
	}
	res := session("raw")
	if res.Decision != string(ekyc.OutcomeRejected) || len(res.Reasons) == 0 || res.Reasons[0].Code != ekyc.ReasonJPKIRevoked {
		t.Fatalf("session after revocation = %s %v, want rejected with %s", res.Decision, res.Reasons, ekyc.ReasonJPKIRevoked)
	}
	if len(res.Result) != 0 {
		t.Errorf("a rejected session printed a result: %s", res.Result)
	}

	// A fresh CRL without the serial: approved again.
	if err := runDev(ctx, e, []string{"jpki", "crl", "--data", dir}); err != nil {
		t.Fatalf("dev jpki crl = %v", err)
	}
	if res := session("raw"); res.Decision != string(ekyc.OutcomeApproved) {
		t.Errorf("session after a fresh CRL = %s %v, want approved", res.Decision, res.Reasons)
	}
	if code := srv.stop(t); code != 0 {
		t.Errorf("server exit = %d", code)
	}

	// A card key that is not the certificate's is refused before any use.
	kd := filepath.Join(dir, "keys", devJPKIDir)
	other, err := os.ReadFile(filepath.Join(kd, "card_auth.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(kd, "card_sign.key"), other, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadDevJPKI(dir); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Errorf("loadDevJPKI(swapped key) = %v, want a mismatch error", err)
	}
}

// TestDevJPKIRefuses: the commands refuse a data directory that is not a
// development one or has no test card.
func TestDevJPKIRefuses(t *testing.T) {
	ctx := context.Background()
	e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	plain := t.TempDir()
	if err := runDev(ctx, e, []string{"jpki", "init", "--data", plain}); err == nil || !strings.Contains(err.Error(), "not a development data directory") {
		t.Errorf("dev jpki init (no marker) = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(plain, "trust")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dev jpki init (no marker) wrote trust files: %v", err)
	}
	dev := t.TempDir()
	if err := markDevelopment(dev); err != nil {
		t.Fatal(err)
	}
	if _, err := loadDevJPKI(dev); !errors.Is(err, errNoDevJPKI) {
		t.Errorf("loadDevJPKI(no card) = %v, want errNoDevJPKI", err)
	}
	if err := runDev(ctx, e, []string{"session", "--data", dev, "--method", "wa"}); !errors.Is(err, errNoDevJPKI) {
		t.Errorf("dev session --method wa (no card) = %v, want errNoDevJPKI", err)
	}
}
