package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
)

// serverProc is a real madoguchi server process (this test binary re-executed
// as main), so tests can send it SIGTERM or SIGKILL.
type serverProc struct {
	cmd  *exec.Cmd
	addr string
	data string
	mu   sync.Mutex
	logs bytes.Buffer
	done chan struct{}
}

func (p *serverProc) url() string { return "http://" + p.addr }

func (p *serverProc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// startServer starts "madoguchi serve" on a free loopback port with data
// under dir and waits until it logs that it is ready.
func startServer(t *testing.T, dir string, args ...string) *serverProc {
	t.Helper()
	args = append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir, "--log-level", "debug", "--models-install", "off"}, args...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "MADOGUCHI_TEST_EXEC_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd, data: dir, done: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "madoguchi ready" {
				ready <- rec.Addr
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	select {
	case p.addr = <-ready:
	case <-p.done:
		_ = cmd.Wait()
		t.Fatalf("server exited before ready:\n%s", p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("server not ready after 30s:\n%s", p.logText())
	}
	return p
}

// stop sends SIGTERM and returns the exit code.
func (p *serverProc) stop(t *testing.T) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return 0
}

// kill sends SIGKILL.
func (p *serverProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
	_ = p.cmd.Wait()
}

// testApp opens the server's data directory from the test process, as an
// operator tool would (SQLite in WAL mode allows this alongside the server).
func testApp(t *testing.T, dir string) *app {
	t.Helper()
	a, err := openApp(context.Background(), modeDevelopment, dataFlags{data: dir}, slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatalf("openApp: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

type testClient struct {
	tenantID string
	*apiClient
}

// newTenantClient creates a tenant and a private_key_jwt client for it.
func newTenantClient(t *testing.T, a *app, serverURL, name string, scopes ...string) testClient {
	t.Helper()
	ctx := context.Background()
	op := tenant.Actor{Kind: "system", ID: "e2e-test"}
	ten, err := a.tenants.CreateTenant(ctx, op, name)
	if err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := publicJWKS("k1", key)
	if err != nil {
		t.Fatal(err)
	}
	var cl tenant.Client
	err = a.db.InTx(ctx, func(tx *store.Tx) error {
		cl, err = a.tenants.CreateClientTx(ctx, tx, op, ten.ID, tenant.ClientSpec{Name: name + " client", Scopes: scopes, JWKS: jwks})
		return err
	})
	if err != nil {
		t.Fatalf("CreateClientTx: %v", err)
	}
	return testClient{tenantID: ten.ID, apiClient: &apiClient{
		base: serverURL, audience: serverURL, clientID: cl.ID, kid: "k1", key: key,
	}}
}

func TestServerEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	srv := startServer(t, dir)
	a := testApp(t, dir)
	ca := newTenantClient(t, a, srv.url(), "Bank A", "audit:read")
	cb := newTenantClient(t, a, srv.url(), "Bank B", "audit:read")

	var who map[string]any
	if err := ca.call(ctx, "GET", "/v1/whoami", nil, &who); err != nil {
		t.Fatalf("whoami: %v", err)
	}
	if who["tenant_id"] != ca.tenantID {
		t.Errorf("whoami tenant = %v, want %s", who["tenant_id"], ca.tenantID)
	}

	t.Run("replayed assertion refused", func(t *testing.T) {
		as, err := ca.assertion(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"grant_type": {"client_credentials"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {as}}
		for i, want := range []int{200, 401} {
			resp, err := http.PostForm(srv.url()+"/v1/oauth/token", form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("token request %d = %d, want %d", i, resp.StatusCode, want)
			}
		}
	})

	t.Run("forged assertion refused", func(t *testing.T) {
		as, _ := ca.assertion(time.Now())
		parts := strings.Split(as, ".")
		claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
		forged := strings.Replace(string(claims), ca.clientID, cb.clientID, 2)
		for name, tok := range map[string]string{
			"claims swapped": parts[0] + "." + b64([]byte(forged)) + "." + parts[2],
			"alg none":       b64([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".",
		} {
			resp, err := http.PostForm(srv.url()+"/v1/oauth/token", url.Values{"grant_type": {"client_credentials"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {tok}})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			// The token endpoint answers RFC 6749 §5.2 JSON errors.
			if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(body), `"error":"invalid_client"`) {
				t.Errorf("%s: token = %d %s, want 401 RFC 6749 invalid_client", name, resp.StatusCode, body)
			}
		}
	})

	// Tenant A's creation is in the audit log; find its entry.
	size, err := a.audit.Size(ctx)
	if err != nil || size == 0 {
		t.Fatalf("audit size = %d, %v", size, err)
	}
	var idxA uint64 = size
	for i := uint64(0); i < size; i++ {
		ten, _, err := a.audit.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if ten == ca.tenantID {
			idxA = i
			break
		}
	}
	if idxA == size {
		t.Fatalf("no audit entry for tenant A among %d", size)
	}

	t.Run("cross-tenant audit entry is 404", func(t *testing.T) {
		path := fmt.Sprintf("/v1/audit/entries/%d", idxA)
		if err := ca.call(ctx, "GET", path, nil, nil); err != nil {
			t.Errorf("own tenant's entry: %v", err)
		}
		err := cb.call(ctx, "GET", path, nil, nil)
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status != 404 {
			t.Errorf("other tenant's entry = %v, want 404", err)
		}
	})

	t.Run("inclusion proof verifies against the signed checkpoint", func(t *testing.T) {
		resp, err := http.Get(srv.url() + "/v1/audit/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		note, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cp, err := audit.VerifyCheckpoint(note, a.audit.VerifierKey())
		if err != nil {
			t.Fatalf("VerifyCheckpoint: %v\n%s", err, note)
		}
		_, leaf, err := a.audit.Entry(ctx, idxA)
		if err != nil {
			t.Fatal(err)
		}
		resp, err = http.Get(fmt.Sprintf("%s/v1/audit/proofs/inclusion?index=%d&size=%d", srv.url(), idxA, cp.Size))
		if err != nil {
			t.Fatal(err)
		}
		var pr struct{ Hashes [][]byte }
		if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if err := audit.VerifyInclusion(audit.LeafHash(leaf), idxA, cp.Size, pr.Hashes, cp.Root); err != nil {
			t.Errorf("VerifyInclusion: %v", err)
		}
		// A proof for a size beyond the log is a clear 400.
		resp, err = http.Get(fmt.Sprintf("%s/v1/audit/proofs/inclusion?index=0&size=%d", srv.url(), cp.Size+1000))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("proof beyond the log = %d, want 400", resp.StatusCode)
		}
	})

	if code := srv.stop(t); code != 0 {
		t.Errorf("exit after SIGTERM = %d, want 0\n%s", code, srv.logText())
	}
	if !strings.Contains(srv.logText(), "shutting down") {
		t.Errorf("no graceful shutdown in the log")
	}
}

// TestNoPlaintextAtRest plants a marker in personal data that flows through
// the server and the vault, then searches every file under the data
// directory (database, WAL, blobs, keys) and the server's log for it.
func TestNoPlaintextAtRest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	srv := startServer(t, dir)
	a := testApp(t, dir)
	c := newTenantClient(t, a, srv.url(), "Marker Bank", "audit:read")
	const marker = "MARKER-山田太郎-1985-04-01-東京都千代田区"

	// Personal data in places a careless server would log or store: the
	// token form, a query string, a header, a JSON body, an unknown path.
	_, _ = http.PostForm(srv.url()+"/v1/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {marker}, "scope": {marker}})
	_, _ = http.Get(srv.url() + "/v1/audit/proofs/inclusion?index=" + url.QueryEscape(marker) + "&size=1")
	_, _ = http.Get(srv.url() + "/" + url.PathEscape(marker))
	req, _ := http.NewRequest("GET", srv.url()+"/v1/whoami", nil)
	req.Header.Set("X-Request-Id", marker)
	req.Header.Set("Authorization", "Bearer "+marker)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	if err := c.call(ctx, "GET", "/v1/whoami", nil, nil); err != nil {
		t.Fatal(err)
	}

	// Personal data sealed the way records and images are: a record in the
	// store and a blob in the blob folder.
	subj := vaultSubject(c.tenantID, "subject-1")
	for i := 0; i < 3; i++ {
		ref, err := a.vault.SealBlob(ctx, subj, []byte("aad"), []byte(marker+" selfie bytes"))
		if err != nil {
			t.Fatalf("SealBlob: %v", err)
		}
		if err := a.db.InTx(ctx, func(tx *store.Tx) error {
			ct, err := a.vault.Seal(ctx, tx, subj, []byte("record"), []byte(`{"name":"`+marker+`"}`))
			if err != nil {
				return err
			}
			if len(ct) == 0 {
				return errors.New("empty ciphertext")
			}
			return a.blobs.Attach(ctx, tx, ref, c.tenantID, fmt.Sprintf("record-%d", i))
		}); err != nil {
			t.Fatal(err)
		}
	}
	if code := srv.stop(t); code != 0 {
		t.Fatalf("exit = %d", code)
	}
	a.Close()

	needles := map[string][]byte{
		"utf-8":  []byte(marker),
		"ascii":  []byte("MARKER-"),
		"base64": []byte(base64.StdEncoding.EncodeToString([]byte(marker))[:24]),
	}
	var files int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for kind, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("marker (%s) found in %s", kind, strings.TrimPrefix(path, dir))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("scanned only %d files under the data directory", files)
	}
	logs := srv.logText()
	if len(logs) < 500 {
		t.Fatalf("server log suspiciously short (%d bytes)", len(logs))
	}
	for kind, n := range needles {
		if strings.Contains(logs, string(n)) {
			t.Errorf("marker (%s) found in the server log", kind)
		}
	}
}
