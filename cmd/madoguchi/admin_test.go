package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/staff"
)

// cliRun runs a command's entry point (runAdmin, runFraud, ...) with
// stdin and an empty environment and returns its stdout and stderr.
func cliRun(run func(context.Context, *env, []string) error, stdin string, args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	err = run(context.Background(), e, args)
	return out.String(), errb.String(), err
}

// adminRun runs "madoguchi admin args..." with stdin and returns stdout.
func adminRun(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	out, errb, err := cliRun(runAdmin, stdin, args...)
	if err != nil {
		t.Logf("admin %s: %v (stderr %q)", strings.Join(args, " "), err, errb)
	}
	return out, err
}

// totpAt computes the code for an otpauth URI at an absolute time step,
// independently of the staff package (RFC 6238: SHA-1, 6 digits, 30 s).
func totpAt(t *testing.T, uri string, step int64) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(u.Query().Get("secret"))
	if err != nil {
		t.Fatal(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[19] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:])&0x7fffffff)%1000000)
}

// user is a staff member driven through the CLI. Each login must use a
// step after the last one accepted; the server accepts one step either side
// of the current one. A login uses the current step or the next, leaving a
// step boundary's margin for the slow argon2id work in between; a third
// login within one step waits for the next step, as a person would.
type user struct {
	uri  string
	last int64
}

func (u *user) creds(t *testing.T) string {
	t.Helper()
	now := time.Now().Unix() / 30
	step := max(u.last+1, now)
	for step > now+1 {
		time.Sleep(time.Until(time.Unix((now+1)*30, 0)))
		now = time.Now().Unix() / 30
	}
	u.last = step
	return "correct horse battery staple\n" + totpAt(t, u.uri, step) + "\n"
}

// twoAdmins creates two admins in the data directory dir, alice (the first
// account) and bob (created by alice), both with the password creds sends,
// and returns them and alice's staff id.
func twoAdmins(t *testing.T, dir string) (alice, bob *user, aliceID string) {
	t.Helper()
	const pw = "correct horse battery staple\n"
	out, err := adminRun(t, pw, "staff", "create", "--username", "alice", "--role", "admin", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	alice = &user{uri: strings.Split(strings.TrimSpace(out), "\n")[1]}
	aliceID = strings.Split(out, "\n")[0]
	out, err = adminRun(t, pw+alice.creds(t), "staff", "create", "--username", "bob", "--role", "admin", "--as", "alice", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	bob = &user{uri: strings.Split(strings.TrimSpace(out), "\n")[1]}
	return alice, bob, aliceID
}

func TestAdminDualControlFlow(t *testing.T) {
	t.Parallel() // waits for fresh TOTP steps: overlaps with the other CLI tests that do
	if testing.Short() {
		t.Skip("about 12 argon2id operations at production cost (64 MiB, t=3): skipped under -short")
	}
	dir := t.TempDir()
	data := []string{"--data", dir}
	const pw = "correct horse battery staple\n"
	lines := func(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

	out, err := adminRun(t, pw, append([]string{"staff", "create", "--username", "alice", "--role", "admin"}, data...)...)
	if err != nil {
		t.Fatal(err)
	}
	l := lines(out)
	if len(l) != 2 || !strings.HasPrefix(l[0], "st_") || !strings.HasPrefix(l[1], "otpauth://totp/Madoguchi:alice?") {
		t.Fatalf("staff create (bootstrap) printed %q", out)
	}
	alice := &user{uri: l[1]}

	// A second admin without --as is refused: only the first admin may add it.
	if _, err := adminRun(t, pw, append([]string{"staff", "create", "--username", "bob", "--role", "admin"}, data...)...); err == nil {
		t.Fatalf("second bootstrap without --as succeeded")
	}
	out, err = adminRun(t, pw+alice.creds(t), append([]string{"staff", "create", "--username", "bob", "--role", "admin", "--as", "alice"}, data...)...)
	if err != nil {
		t.Fatal(err)
	}
	l = lines(out)
	bob := &user{uri: l[1]}

	out, err = adminRun(t, "", append([]string{"tenant", "create", "--name", "Bank A"}, data...)...)
	if err != nil {
		t.Fatal(err)
	}
	tenantID := strings.TrimSpace(out)

	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks := filepath.Join(dir, "client.jwks")
	os.WriteFile(jwks, []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"`+base64.RawURLEncoding.EncodeToString(pub)+`"}]}`), 0o600)
	clientArgs := append([]string{"client", "create", "--tenant", tenantID, "--name", "App", "--scopes", "ekyc:read,ekyc:write", "--jwks", jwks, "--as", "alice"}, data...)

	// Wrong TOTP code: refused, nothing filed.
	if _, err := adminRun(t, "correct horse battery staple\n000000\n", clientArgs...); !errors.Is(err, staff.ErrInvalidCredentials) {
		t.Fatalf("client create with a wrong code = %v, want ErrInvalidCredentials", err)
	}
	out, err = adminRun(t, alice.creds(t), clientArgs...)
	if err != nil {
		t.Fatal(err)
	}
	approval := strings.TrimSpace(out)
	if !strings.HasPrefix(approval, "ap_") {
		t.Fatalf("client create printed %q, want an approval id", out)
	}
	// Nothing exists before approval.
	if out, _ := adminRun(t, "", append([]string{"client", "list", "--tenant", tenantID}, data...)...); out != "" {
		t.Errorf("client list before approval = %q, want empty", out)
	}
	// (A requester approving their own request, and rejection, are
	// covered in package staff; here each user logs in at most twice, so the
	// test never waits for a new TOTP step.)
	out, err = adminRun(t, bob.creds(t), append([]string{"approve", approval, "--as", "bob"}, data...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "client.create approved") || !strings.Contains(out, "client cl_") {
		t.Errorf("approve printed %q", out)
	}
	out, _ = adminRun(t, "", append([]string{"client", "list", "--tenant", tenantID}, data...)...)
	if !strings.Contains(out, "private_key_jwt") || !strings.Contains(out, "ekyc:read,ekyc:write") {
		t.Errorf("client list = %q", out)
	}
	out, _ = adminRun(t, "", append([]string{"approvals"}, data...)...)
	if !strings.Contains(out, approval+"\tclient.create\tapproved") {
		t.Errorf("approvals = %q", out)
	}

	// A reviewer: account now, role after approval.
	out, err = adminRun(t, pw+bob.creds(t), append([]string{"staff", "create", "--username", "carol", "--role", "reviewer", "--as", "bob"}, data...)...)
	if err != nil {
		t.Fatal(err)
	}
	l = lines(out)
	if len(l) != 3 || !strings.HasPrefix(l[2], "ap_") {
		t.Fatalf("staff create (approval) printed %q", out)
	}
	out, _ = adminRun(t, "", append([]string{"approvals", "--status", "pending"}, data...)...)
	if !strings.Contains(out, l[2]+"\trole.grant\tpending") {
		t.Errorf("pending approvals = %q", out)
	}
}

func TestAdminUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{},
		{"frob"},
		{"tenant", "create", "--data", dir},
		{"client", "create", "--data", dir, "--tenant", "t", "--name", "n", "--scopes", "a", "--as", "x"},
		{"client", "create", "--data", dir, "--tenant", "t", "--name", "n", "--scopes", "a", "--jwks", "f", "--cert", "g", "--as", "x"},
		{"approve", "--data", dir, "--as", "x"},
		{"approve", "ap_1", "ap_2", "--data", dir, "--as", "x"},
		{"staff", "create", "--data", dir, "--username", "u", "--role", "god"},
		{"staff", "create", "--data", dir, "--username", "u", "--role", "reviewer"},
	} {
		_, err := adminRun(t, "correct horse battery staple\n", args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("admin %q = %v, want a usage error", args, err)
		}
	}
}

func FuzzParseClientCreate(f *testing.F) {
	f.Add([]byte(`{"tenant_id":"tn_x","client":{"name":"n","scopes":["a"],"jwks":"{}"}}`))
	f.Add([]byte(`{"tenant_id":"","client":{}}`))
	f.Add([]byte(`{"tenant_id":"t","extra":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseClientCreate(b)
		if err != nil {
			return
		}
		if p.TenantID == "" {
			t.Fatalf("parseClientCreate(%q) accepted an empty tenant id", b)
		}
		_ = p.Client.Validate(time.Now())
	})
}

// TestAdminClientCreateTLSFlags: a tls_client_auth client takes --tls-ca
// and exactly one --tls-* name; other combinations are usage errors before
// anything opens or logs in.
func TestAdminClientCreateTLSFlags(t *testing.T) {
	base := []string{"client", "create", "--tenant", "tn_x", "--name", "App", "--scopes", "a", "--as", "alice", "--data", t.TempDir()}
	for _, extra := range [][]string{
		{"--tls-ca", "ca.pem"},
		{"--tls-subject-dn", "CN=x"},
		{"--jwks", "k.json", "--tls-ca", "ca.pem", "--tls-subject-dn", "CN=x"},
		{"--cert", "c.pem", "--tls-san-dns", "api.example"},
	} {
		var ue usageError
		if _, err := adminRun(t, "", append(slices.Clone(base), extra...)...); !errors.As(err, &ue) {
			t.Errorf("admin client create %v = %v, want a usage error", extra, err)
		}
	}
}
