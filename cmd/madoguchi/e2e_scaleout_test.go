package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/internal/cutproxy"
	"github.com/madoguchi/madoguchi/internal/weedtest"
	"github.com/madoguchi/madoguchi/revoke"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/tenant"
)

// TestScaleOut runs two `madoguchi serve` processes as one deployment: one
// PostgreSQL schema, one real S3-compatible object store (SeaweedFS), one
// public URL, the same provisioned keys. Requests of one session and one
// client go to either instance, as a load balancer would send them:
//   - a token issued by A is accepted by B; a client assertion and a capture
//     link are spent once across instances; a frame nonce spent on one
//     instance is refused on the other;
//   - a session created on A is captured on both and submitted to both at
//     once: one submit wins, the session is decided exactly once, and both
//     instances answer the same decision;
//   - each instance decides a session from frames the other stored; every
//     blob is in the object store (none on either instance's disk) and
//     opens from a third process;
//   - a client disabled by an operator on A is refused by B within the
//     revocation bound (1 s) although B had its token cached; B's
//     connection to PostgreSQL is cut and restored, and B neither serves
//     cached tokens while cut off nor misses a revocation made meanwhile.
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SeaweedFS and two server processes with the face engine")
	}
	weed := weedtest.Start(t)
	pg := storetest.PostgresURL(t)
	models := e2eModels(t)
	ctx := context.Background()
	t.Setenv("MADOGUCHI_S3_ACCESS_KEY_ID", weed.AccessKeyID)
	t.Setenv("MADOGUCHI_S3_SECRET_ACCESS_KEY", weed.SecretAccessKey)
	const public = "http://madoguchi.test" // the load balancer's name for both
	blobs := weed.URL() + "&prefix=scaleout/"
	flags := func(db string) []string {
		return []string{"--db", db, "--blobs", blobs, "--public-url", public, "--models", models, "--rate-limit", "0"}
	}
	data := func(dir string) dataFlags {
		return dataFlags{data: dir, db: pg, blobs: blobFlags{where: blobs, accessKeyID: weed.AccessKeyID, secretKey: weed.SecretAccessKey}}
	}

	// A creates the development keys; the kiosk is registered; B is
	// provisioned with a copy of A's keys, trust anchors and kiosk key.
	dirA, dirB := t.TempDir(), t.TempDir()
	srvA := startServer(t, dirA, flags(pg)...)
	kioskID, kioskKey, _, err := devKiosk(ctx, data(dirA))
	if err != nil {
		t.Fatalf("devKiosk: %v", err)
	}
	copyTree(t, dirA, dirB)
	kioskKey = filepath.Join(dirB, strings.TrimPrefix(kioskKey, dirA))
	// B reaches PostgreSQL through a proxy the test can cut.
	u, _ := url.Parse(pg)
	px, err := cutproxy.New(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	u.Host = px.Addr()
	srvB := startServer(t, dirB, flags(u.String())...)

	client := func(srv *serverProc) *apiClient {
		c, err := loadAPIClient(srv.url(), public, kioskID, kioskKey)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ka, kb := client(srvA), client(srvB)

	t.Run("credentials across instances", func(t *testing.T) {
		if err := ka.fetchToken(ctx); err != nil {
			t.Fatal(err)
		}
		kb.token, kb.expires = ka.token, ka.expires
		var who map[string]any
		if err := kb.call(ctx, "GET", "/v1/whoami", nil, &who); err != nil || who["client_id"] != kioskID {
			t.Fatalf("B with A's token: %v, %v", who, err)
		}
		as, err := ka.assertion(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if st := tokenStatus(t, srvA.url(), as); st != 200 {
			t.Fatalf("assertion at A = %d, want 200", st)
		}
		if st := tokenStatus(t, srvB.url(), as); st != 401 {
			t.Errorf("the same assertion replayed at B = %d, want 401 (jti spent once across instances)", st)
		}
	})

	var winners [2]string
	t.Run("one session on both instances, decided once", func(t *testing.T) {
		s := newScaleSession(t, ka, dirA, "走査一郎")
		s.chip(t, kb)
		st := s.start(t, ka)
		if err := kb.capture(ctx, "start", "Capture "+s.token, nil, nil); !isStatus(err, 400, 401, 403, 404, 409, 410) {
			t.Errorf("capture link redeemed again at B = %v, want refused", err)
		}
		// Frames alternate between the instances, each with the nonce
		// the other one issued.
		nonce := st.nonce
		for i, c := range []*apiClient{kb, ka, kb} {
			next, err := s.frame(ctx, c, st, i+1, nonce)
			if err != nil {
				t.Fatalf("frame %d: %v", i+1, err)
			}
			if i == 0 {
				// The nonce B just spent, replayed at A.
				if _, err := s.frame(ctx, ka, st, 2, nonce); !isStatus(err, 400, 409) {
					t.Errorf("frame with a nonce spent at B, sent to A = %v, want refused", err)
				}
			}
			nonce = next
		}
		// Submitted to both at once.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, c := range []*apiClient{ka, kb} {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = c.capture(ctx, "submit", "Capture-Key "+st.key, nil, nil) }()
		}
		wg.Wait()
		switch {
		case errs[0] == nil && errs[1] != nil:
			winners = [2]string{"A", "B"}
		case errs[1] == nil && errs[0] != nil:
			winners = [2]string{"B", "A"}
		default:
			t.Fatalf("submits at A and B = %v, %v; want exactly one accepted", errs[0], errs[1])
		}
		t.Logf("the submit at %s won", winners[0])
		da, db := s.decision(t, ka), s.decision(t, kb)
		if da != db || da == "" {
			t.Errorf("decision at A %q, at B %q", da, db)
		}
		t.Logf("decision %q, the same at A and B", da)
		countDecisions(t, pg, s.id, 1)
	})

	t.Run("each instance decides from blobs the other stored", func(t *testing.T) {
		// Session 1 was decided by the submit's winner from frames of both
		// instances; this one is stored entirely through the winner and
		// submitted to the other instance.
		store, decide := ka, kb
		if winners[0] == "B" {
			store, decide = kb, ka
		}
		s := newScaleSession(t, store, dirA, "走査二郎")
		s.chip(t, store)
		st := s.start(t, store)
		nonce := st.nonce
		for i := range 3 {
			next, err := s.frame(ctx, store, st, i+1, nonce)
			if err != nil {
				t.Fatalf("frame %d: %v", i+1, err)
			}
			nonce = next
		}
		if err := decide.capture(ctx, "submit", "Capture-Key "+st.key, nil, nil); err != nil {
			t.Fatalf("submit at %s: %v", winners[1], err)
		}
		if d := s.decision(t, decide); d == "" {
			t.Fatal("no decision")
		}
		countDecisions(t, pg, s.id, 1)
	})

	t.Run("blobs live in the object store", func(t *testing.T) {
		for _, dir := range []string{dirA, dirB} {
			_ = filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					t.Errorf("blob on an instance's disk: %s", p)
				}
				return nil
			})
		}
		a := testAppWith(t, data(t.TempDir()))
		rows, err := a.db.Query(ctx, `SELECT DISTINCT hash FROM blob_refs`)
		if err != nil {
			t.Fatal(err)
		}
		var refs []blob.Ref
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				t.Fatal(err)
			}
			r, err := blob.ParseRef("sha256:" + h)
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, r)
		}
		rows.Close()
		if len(refs) < 8 {
			t.Fatalf("%d blobs attached; two sessions store at least 8", len(refs))
		}
		for _, r := range refs {
			if _, err := a.blobs.Get(ctx, r); err != nil { // Get checks the content hash
				t.Errorf("blob %v from the object store: %v", r, err)
			}
		}
	})

	t.Run("revocation reaches the other instance within the bound", func(t *testing.T) {
		a := testAppWith(t, data(dirA))
		op := newTenantClient(t, a, public, "Scale-out bank", "audit:read")
		ca, cb := *op.apiClient, *op.apiClient
		ca.base, cb.base = srvA.url(), srvB.url()
		if err := ca.fetchToken(ctx); err != nil {
			t.Fatal(err)
		}
		cb.token, cb.expires = ca.token, ca.expires
		for range 3 { // the second and third are served from B's cache
			if st := whoamiStatus(ctx, &cb); st != 200 {
				t.Fatalf("whoami at B = %d", st)
			}
		}
		if err := a.tenants.DisableClient(ctx, tenant.Actor{Kind: "staff", ID: "e2e-operator"}, op.tenantID, op.clientID); err != nil {
			t.Fatal(err)
		}
		refusedWithin(t, &cb, "B, after the client was disabled on A", 401)
		refusedWithin(t, &ca, "A, after the client was disabled on A", 401)
	})

	t.Run("B's PostgreSQL connection cut and restored", func(t *testing.T) {
		a := testAppWith(t, data(dirA))
		op := newTenantClient(t, a, public, "Scale-out bank 2", "audit:read")
		cb := *op.apiClient
		cb.base = srvB.url()
		if err := cb.fetchToken(ctx); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if st := whoamiStatus(ctx, &cb); st != 200 {
				t.Fatalf("whoami at B = %d", st)
			}
		}
		px.Cut()
		// Revoked while B cannot hear it: B must stop serving the cached
		// token within the bound (it cannot vouch for it).
		if err := a.tenants.DisableClient(ctx, tenant.Actor{Kind: "staff", ID: "e2e-operator"}, op.tenantID, op.clientID); err != nil {
			t.Fatal(err)
		}
		// Cut off, B cannot check the token: a server error, never a 200.
		refusedWithin(t, &cb, "B, cut off from PostgreSQL", 500)
		px.Restore()
		deadline := time.Now().Add(30 * time.Second)
		for {
			st := whoamiStatus(ctx, &cb)
			if st == 401 {
				break // B is back and knows the client is disabled
			}
			if time.Now().After(deadline) {
				t.Fatalf("whoami at B after the connection was restored = %d, want 401", st)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// And B serves again: a fresh client works through B.
		op2 := newTenantClient(t, a, public, "Scale-out bank 3", "audit:read")
		cb2 := *op2.apiClient
		cb2.base = srvB.url()
		if err := cb2.fetchToken(ctx); err != nil {
			t.Fatalf("token at B after the restore: %v", err)
		}
		if st := whoamiStatus(ctx, &cb2); st != 200 {
			t.Errorf("whoami at B after the restore = %d", st)
		}
	})
}

// scaleSession is one ヘ session driven by hand across instances.
type scaleSession struct {
	id, token string
	kind      document.Kind
	files     map[string][]byte
	selfies   [][]byte
}

type captureState struct {
	session, key, nonce string
	rawKey              []byte
}

func newScaleSession(t *testing.T, c *apiClient, dir, name string) *scaleSession {
	t.Helper()
	img := filepath.Join("..", "..", "face", "testdata", "golden", "images")
	chipDir := filepath.Join(t.TempDir(), "chip")
	var errb bytes.Buffer
	e := &env{stdout: io.Discard, stderr: &errb, getenv: func(string) string { return "" }}
	if err := devChip(context.Background(), e, []string{"--data", dir, "--kind", "jpdl", "--photo", filepath.Join(img, "astronaut_face_250.png"),
		"--name", name, "--birthdate", "1980-01-02", "--out", chipDir}); err != nil {
		t.Fatalf("dev chip: %v (%s)", err, errb.String())
	}
	kind, files, _, err := readChipDir(chipDir, "")
	if err != nil {
		t.Fatal(err)
	}
	s := &scaleSession{kind: kind, files: files}
	for _, f := range []string{"astronaut_face_250.png", "astronaut_512.png", "astronaut_gray_250.png"} {
		b, err := os.ReadFile(filepath.Join(img, f))
		if err != nil {
			t.Fatal(err)
		}
		s.selfies = append(s.selfies, b)
	}
	var out struct {
		ID         string `json:"id"`
		CaptureURL string `json:"capture_url"`
	}
	if err := c.call(context.Background(), "POST", "/v1/ekyc/sessions", map[string]string{"method": "he", "reference": "scale-out", "locale": "ja"}, &out); err != nil {
		t.Fatalf("create session: %v", err)
	}
	_, tok, _ := strings.Cut(out.CaptureURL, "#t=")
	s.id, s.token = out.ID, tok
	return s
}

func (s *scaleSession) chip(t *testing.T, c *apiClient) {
	t.Helper()
	enc := map[string]string{}
	for n, b := range s.files {
		enc[n] = base64.StdEncoding.EncodeToString(b)
	}
	var sum struct {
		Verified bool `json:"verified"`
	}
	if err := c.call(context.Background(), "POST", "/v1/ekyc/sessions/"+s.id+"/chip", map[string]any{"kind": s.kind, "files": enc}, &sum); err != nil || !sum.Verified {
		t.Fatalf("chip: %+v, %v", sum, err)
	}
}

func (s *scaleSession) start(t *testing.T, c *apiClient) captureState {
	t.Helper()
	var st struct {
		SessionID  string `json:"session_id"`
		Key        string `json:"capture_key"`
		FrameNonce string `json:"frame_nonce"`
	}
	if err := c.capture(context.Background(), "start", "Capture "+s.token, nil, &st); err != nil {
		t.Fatalf("capture start: %v", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(st.Key)
	if err != nil {
		t.Fatal(err)
	}
	return captureState{session: st.SessionID, key: st.Key, nonce: st.FrameNonce, rawKey: raw}
}

// frame posts selfie seq (1-based) with nonce and returns the next nonce.
func (s *scaleSession) frame(ctx context.Context, c *apiClient, st captureState, seq int, nonce string) (string, error) {
	img := s.selfies[(seq-1)%len(s.selfies)]
	f := ekyc.Frame{Kind: ekyc.FrameSelfie, Seq: seq, Nonce: nonce, CapturedAt: time.Now().UTC().Truncate(time.Millisecond),
		Source: ekyc.SourceCamera, Image: img}
	f.MAC = base64.RawURLEncoding.EncodeToString(ekyc.FrameMAC(st.rawKey, st.session, &f))
	var next struct {
		NextNonce string `json:"next_nonce"`
	}
	err := c.capture(ctx, "frames", "Capture-Key "+st.key, map[string]any{
		"kind": f.Kind, "seq": f.Seq, "nonce": f.Nonce, "captured_at": f.CapturedAt.UnixMilli(), "source": f.Source,
		"image": base64.StdEncoding.EncodeToString(img), "mac": f.MAC}, &next)
	return next.NextNonce, err
}

// decision waits for the session's decision as c's instance reports it.
func (s *scaleSession) decision(t *testing.T, c *apiClient) string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var out struct {
			State    string         `json:"state"`
			Decision *ekyc.Decision `json:"decision"`
		}
		if err := c.call(context.Background(), "GET", "/v1/ekyc/sessions/"+s.id, nil, &out); err != nil {
			t.Fatalf("get session: %v", err)
		}
		if out.State == string(ekyc.StateDecided) && out.Decision != nil {
			return string(out.Decision.Outcome)
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s not decided (state %s)", s.id, out.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// countDecisions checks how many decisions the audit log holds for session.
func countDecisions(t *testing.T, dsn, session string, want int) {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM audit_entries WHERE object = ? AND action IN ('ekyc.session.decide', 'ekyc.review.decide')`, session).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Errorf("session %s has %d decisions in the audit log, want %d", session, n, want)
	}
}

func isStatus(err error, codes ...int) bool {
	var ae *apiError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.Status == c {
			return true
		}
	}
	return false
}

func whoamiStatus(ctx context.Context, c *apiClient) int {
	err := c.call(ctx, "GET", "/v1/whoami", nil, nil)
	var ae *apiError
	switch {
	case err == nil:
		return 200
	case errors.As(err, &ae):
		return ae.Status
	}
	return -1
}

// refusedWithin polls whoami until it is refused, failing after the
// revocation bound plus slack for a loaded machine.
func refusedWithin(t *testing.T, c *apiClient, what string, want int) {
	t.Helper()
	start := time.Now()
	for {
		st := whoamiStatus(context.Background(), c)
		if st != 200 {
			if st != want {
				t.Fatalf("%s: whoami = %d, want %d", what, st, want)
			}
			t.Logf("%s: refused (%d) after %v", what, st, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > revoke.DefaultBound+time.Second {
			t.Fatalf("%s: still accepted after %v", what, time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tokenStatus posts a client assertion to a token endpoint.
func tokenStatus(t *testing.T, base, assertion string) int {
	t.Helper()
	resp, err := http.PostForm(base+"/v1/oauth/token", url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// testAppWith opens the deployment's store and object store from the test
// process, as an operator tool on an instance's host would.
func testAppWith(t *testing.T, d dataFlags) *app {
	t.Helper()
	a, err := openApp(context.Background(), modeDevelopment, d, slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatalf("openApp: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

// copyTree copies the files of src (keys, trust anchors, the kiosk key)
// into dst, keeping permissions.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}
