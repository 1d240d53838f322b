package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPasskeyRP(t *testing.T) {
	for _, tc := range []struct {
		in, rpID, origin string
		ok               bool
	}{
		{"https://portal.example.jp", "portal.example.jp", "https://portal.example.jp", true},
		{"https://portal.example.jp:8443/x", "portal.example.jp", "https://portal.example.jp:8443", true},
		{"http://127.0.0.1:8080", "localhost", "http://localhost:8080", true},
		{"http://[::1]:8080", "localhost", "http://localhost:8080", true},
		{"https://192.0.2.1", "", "", false},
		{"ftp://x", "", "", false},
		{"not a url", "", "", false},
	} {
		rp, err := passkeyRP(tc.in)
		if (err == nil) != tc.ok || rp.RPID != tc.rpID || (tc.ok && !slices.Equal(rp.Origins, []string{tc.origin})) {
			t.Errorf("passkeyRP(%q) = %+v, %v; want %s %s ok=%v", tc.in, rp, err, tc.rpID, tc.origin, tc.ok)
		}
	}
}

func TestServePortalFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--portal", "maybe"}, "--portal"},
		{[]string{"--portal-admin-passkey", "always"}, "--portal-admin-passkey"},
		{[]string{"--portal-admin-passkey", "required", "--portal-passkeys", "off"}, "needs --portal-passkeys on"},
		{[]string{"--portal-idle-timeout", "9h"}, "longer than"},
		{[]string{"--trusted-proxies", "proxy.local"}, "--trusted-proxies"},
	} {
		code, _, errs := runCLI(t, append([]string{"serve", "--data", t.TempDir()}, tc.args...)...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("serve %v = exit %d, %q; want a usage error about %s", tc.args, code, errs, tc.want)
		}
	}
}

func TestDevPortalRefusesProductionData(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := runCLI(t, "dev", "portal", "--data", dir)
	if code == 0 || !strings.Contains(errs, "not a development data directory") {
		t.Errorf("dev portal on a directory without the marker = exit %d, %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, devPortalFile)); !os.IsNotExist(err) {
		t.Errorf("dev portal wrote %s on a refused directory", devPortalFile)
	}
	// Before the server's first start the directory does not exist: the
	// error says to start the server, and dev portal creates nothing.
	missing := filepath.Join(dir, "madoguchi-data")
	code, _, errs = runCLI(t, "dev", "portal", "--data", missing)
	if code == 0 || !strings.Contains(errs, "does not exist yet: start the development server first") {
		t.Errorf("dev portal on a missing directory = exit %d, %q", code, errs)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("dev portal created %s", missing)
	}
}

func TestDevPortal(t *testing.T) {
	dir := t.TempDir()
	a := testApp(t, dir) // a development data directory
	a.Close()
	code, out, errs := runCLI(t, "dev", "portal", "--data", dir)
	if code != 0 {
		t.Fatalf("dev portal = exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"dev-operator", "dev-reviewer", "tenant.reviewer", "dev-admin", "tenant.admin", devPortalPassword, "Development Bank"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Idempotent: a second run creates nothing and prints fresh codes.
	if code, out2, errs := runCLI(t, "dev", "portal", "--data", dir); code != 0 || strings.Count(out2, "\n") != strings.Count(out, "\n") {
		t.Errorf("second dev portal = exit %d\n%s%s", code, out2, errs)
	}
	fi, err := os.Stat(filepath.Join(dir, devPortalFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, mode %v; want 0600", devPortalFile, err, fi.Mode().Perm())
	}
	b := testApp(t, dir)
	acc, err := b.staff.AccountByUsername(t.Context(), "dev-reviewer")
	if err != nil || acc.TenantID == "" || len(acc.Roles) != 1 {
		t.Errorf("dev-reviewer = %+v, %v; want a tenant account with one role", acc, err)
	}
}
