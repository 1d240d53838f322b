// Package hsmtest gives tests a real PKCS#11 token: a SoftHSM2 token made
// in the test's temporary folder (SOFTHSM2_CONF points there), with keys
// generated inside it by hsm.GenerateKey (C_GenerateKeyPair), so they are
// as non-extractable as in a bank's HSM.
//
// Tests skip, saying why, when softhsm2 is not installed or the binary
// has no cgo, unless CI is set: there they fail, so CI cannot silently
// skip them (.ci/run installs softhsm2).
//
// SoftHSM2 reads SOFTHSM2_CONF when the module is initialised, which
// package hsm does once per process while any key of the module is open:
// close every key (t.Cleanup) before the next test makes its token, and
// do not run such tests in parallel.
package hsmtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/internal/hsm"
)

// modulePaths are where distributions install SoftHSM2's module.
var modulePaths = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",
}

// Module returns SoftHSM2's module path, or skips t (fails it under CI)
// when SoftHSM2 or cgo is missing.
func Module(t testing.TB) string {
	t.Helper()
	missing := func(why string) {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s, and CI is set: PKCS#11 tests must run in CI (.ci/run installs softhsm2; build with cgo)", why)
		}
		t.Skipf("%s: PKCS#11 tests skipped (apt-get install softhsm2; CGO_ENABLED=1)", why)
	}
	if err := hsm.GenerateKey("pkcs11:token=x;object=x?module-path=/nonexistent&pin-source=env:X", hsm.ECDSAP256); errors.Is(err, hsm.ErrNoCgo) {
		missing("this test binary was built without cgo")
	}
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		missing("softhsm2-util is not installed")
	}
	for _, p := range modulePaths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	missing("libsofthsm2.so is not installed")
	return ""
}

// Token is an initialised SoftHSM2 token.
type Token struct {
	Module  string // the PKCS#11 module path
	Label   string // the token label
	PINFile string // a 0600 file holding the user PIN
	PIN     string // the user PIN (for tests that set pin-source=env:)
}

// New makes a token labelled label in t's temporary folder; extra lines
// are added to its softhsm2.conf (for example "slots.mechanisms =
// -CKM_EDDSA" to take a mechanism away).
func New(t testing.TB, label string, extra ...string) *Token {
	t.Helper()
	mod := Module(t)
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"+strings.Join(extra, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	tk := &Token{Module: mod, Label: label, PINFile: filepath.Join(dir, "user.pin"), PIN: random(8)}
	out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", random(8), "--pin", tk.PIN).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	if err := os.WriteFile(tk.PINFile, []byte(tk.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return tk
}

// URI names object in the token, its PIN from PINFile.
func (tk *Token) URI(object string) string {
	return hsm.URI{Token: tk.Label, Object: object, ModulePath: tk.Module, PINFile: tk.PINFile}.String()
}

// Generate makes an alg key pair labelled object inside the token and
// returns its URI.
func (tk *Token) Generate(t testing.TB, object string, alg hsm.Algorithm) string {
	t.Helper()
	u := tk.URI(object)
	if err := hsm.GenerateKey(u, alg); err != nil {
		t.Fatal(err)
	}
	return u
}

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
