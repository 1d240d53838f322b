package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/web"
)

// TestCredentialChain runs the offline credential's whole chain across the
// real HTTP API and a branch device with its own data folder:
//
//  1. a tenant client (private_key_jwt) issues a credential over HTTP for a
//     customer of an approved eKYC session whose live selfies went
//     through the capture API (the template is enrolled from them);
//  2. a branch device (`branch init` keys, enrolled by two admins) syncs
//     the issuer keys, its wrapped branch key, the status list and the
//     branch policy from the server over HTTP;
//  3. the server stops: the branch reads the QR code from the PNG the API
//     returned, verifies it offline and decides on live frames with the
//     real face engine — accepted;
//  4. the server starts again, the client revokes the credential over
//     HTTP, the branch syncs: the same QR code is refused (revoked);
//  5. the branch's log — the offline acceptance and the refusal — is in
//     the server's audit log (credential.branch.entry).
//
// The live frames are the portrait warped into the challenge's turns and
// blink, under the relaxations TestBranchDecisionRealEngine states (the
// tenant's eKYC policy here: PAD ≥ 0.4, MiniFAS ≥ 0.1, blink EAR < 0.235).
// The server's face calibration is the default recogniser's East Asian
// one (lfw-ea, FMR 1e-3, threshold 0.4634; docs/face-accuracy.md), which
// docs/credential.md shows holds for a credential's int6 template against a
// live float32 one. The eKYC decision is set in the database, as
// TestBrowserTxAuthFace does (the chip and decision are
// TestBrowserCaptureHe's subject).
func TestCredentialChain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes and runs the face engine")
	}
	models := e2eModels(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	eng, err := face.Load(models, face.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cal := face.Calibration{Version: 1, Model: eng.Model(), Metric: "cosine", TargetFMR: 1e-3, Threshold: 0.4634, FNMR: 0.042,
		Dataset: "LFW East Asian subset (docs/face-accuracy.md)", Created: time.Now().UTC(), Identities: 165, Images: 427,
		Evaluation: face.Evaluation{Genuine: 929, Impostor: 90022}}
	var cb bytes.Buffer
	if err := cal.Write(&cb); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "face-calibration.json"), cb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	serverArgs := []string{"--models", models, "--rate-limit", "0"}
	srv := startServer(t, dir, serverArgs...)
	a := testApp(t, dir)
	c := newTenantClient(t, a, srv.url(), "Branch Bank", web.ScopeEKYCSessions, web.ScopeTxAuthConfirm, web.ScopeTxAuthAdmin, web.ScopeCredentialIssue)
	es, err := a.newEKYC(srv.url())
	if err != nil {
		t.Fatal(err)
	}
	pol := ekyc.ExamplePolicy(0.5)
	pol.Liveness.MinPAD, pol.Liveness.PAD = 0.4, ekyc.PADThresholds{MiniFAS: new(0.1)}
	pol.Liveness.EARClosed, pol.Liveness.EAROpen = 0.235, 0.25
	if _, err := es.SetPolicy(ctx, ekyc.System, c.tenantID, pol); err != nil {
		t.Fatal(err)
	}

	// 1. Issue over HTTP.
	customer := approvedCustomer(t, ctx, a, c, "C-BRANCH")
	var issued struct {
		ID        string `json:"id"`
		QRText    string `json:"qr_text"`
		QRVersion int    `json:"qr_version"`
		QRPNG     []byte `json:"qr_png"`
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		err := c.call(ctx, "POST", "/v1/credentials", map[string]string{"customer": customer, "basis": "ekyc"}, &issued)
		var ae *apiError
		if err == nil {
			break
		}
		if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("POST /v1/credentials: %v", err) // 503 while the models load
		}
	}
	if issued.QRVersion > 22 || len(issued.QRPNG) == 0 {
		t.Fatalf("issued %s: QR version %d-M, %d PNG bytes; want at most 22-M and a PNG", issued.ID, issued.QRVersion, len(issued.QRPNG))
	}

	// 2. The branch device: its own folder and keys, enrolled by two
	// admins of the tenant, trusting the issuer key the server publishes.
	b := newChainBranch(t, ctx, a, es, srv, c.tenantID, eng)
	b.syncOnce(ctx)
	if st := b.counter.Status(); !st.Ready || !b.online {
		t.Fatalf("branch after sync: %+v (online %v, %s)", st, b.online, b.lastErr)
	}

	// 3. Server down: the branch decides on its cache.
	if code := srv.stop(t); code != 0 {
		t.Fatalf("server exit = %d", code)
	}
	b.syncOnce(ctx)
	if b.online {
		t.Fatal("the branch reached a stopped server")
	}
	text, err := decodeQRFrame(issued.QRPNG)
	if err != nil || text != issued.QRText {
		t.Fatalf("decodeQRFrame(API PNG) = %d characters, %v; want the issued text", len(text), err)
	}
	astro := readRGBA(t, e2eFaceImage)
	d := branchDecide(t, ctx, b.counter, eng, text, astro)
	if !d.Accepted || d.Credential != issued.ID {
		t.Fatalf("offline decision = %+v, want %s accepted", d, issued.ID)
	}
	t.Logf("offline: accepted %s, scores %v", d.Credential, d.Scores)

	// 4. Server back (same address), revocation over HTTP, sync: refused.
	startServer(t, dir, append(serverArgs, "--addr", srv.addr)...) // stopped by its cleanup
	var rev struct {
		State string `json:"state"`
	}
	if err := c.call(ctx, "POST", "/v1/credentials/"+issued.ID+"/revoke", map[string]string{"reason": credential.ReasonLostPhone}, &rev); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	b.syncOnce(ctx)
	if !b.online {
		t.Fatalf("branch sync after restart: %s", b.lastErr)
	}
	_, refused, err := b.counter.Scan(ctx, text)
	if err != nil || refused == nil || refused.Accepted || !slices.Contains(refused.Reasons, "credential.revoked") {
		t.Fatalf("Scan(revoked) = %+v, %v; want refused credential.revoked", refused, err)
	}
	b.syncOnce(ctx) // pushes the refusal

	// 5. The branch's entries are in the server's audit log.
	var accepted, revoked int
	size, err := a.audit.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range size {
		_, leaf, err := a.audit.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		en, err := audit.ParseLeaf(leaf)
		if err != nil || en.Action != "credential.branch.entry" || en.Object != issued.ID || en.ActorID != b.device {
			continue
		}
		switch {
		case en.Outcome == audit.OutcomeOK && en.Details["branch_action"] == "credential.branch.verify":
			accepted++
		case en.Outcome == audit.OutcomeDenied && en.Details["b_reasons"] == "credential.revoked":
			revoked++
		}
	}
	if accepted != 1 || revoked != 1 {
		t.Errorf("server audit log: %d accepted and %d revoked branch entries for %s, want 1 and 1", accepted, revoked, issued.ID)
	}
}

// approvedCustomer sends live selfies (the astronaut portraits) through the
// capture API, approves the session and makes its customer with reference;
// it returns the customer's id.
func approvedCustomer(t *testing.T, ctx context.Context, a *app, c testClient, reference string) string {
	t.Helper()
	var s sessionOut
	if err := c.call(ctx, "POST", "/v1/ekyc/sessions", map[string]string{"method": "he", "reference": reference}, &s); err != nil {
		t.Fatal(err)
	}
	_, token, _ := strings.Cut(s.CaptureURL, "#t=")
	var start struct {
		SessionID  string `json:"session_id"`
		Key        string `json:"capture_key"`
		FrameNonce string `json:"frame_nonce"`
	}
	if err := c.capture(ctx, "start", "Capture "+token, nil, &start); err != nil {
		t.Fatal(err)
	}
	key, _ := base64.RawURLEncoding.DecodeString(start.Key)
	nonce := start.FrameNonce
	for i, name := range []string{"astronaut_512.png", "astronaut_face_250.png", "astronaut_wide_256x170.png", "astronaut_gray_250.png"} {
		img, err := os.ReadFile(filepath.Join("../../face/testdata/golden/images", name))
		if err != nil {
			t.Fatal(err)
		}
		f := ekyc.Frame{Kind: ekyc.FrameSelfie, Seq: i + 1, Nonce: nonce, CapturedAt: time.Now().UTC().Truncate(time.Millisecond), Source: ekyc.SourceCamera, Image: img}
		f.MAC = base64.RawURLEncoding.EncodeToString(ekyc.FrameMAC(key, start.SessionID, &f))
		var next struct {
			NextNonce string `json:"next_nonce"`
		}
		if err := c.capture(ctx, "frames", "Capture-Key "+start.Key, map[string]any{"kind": f.Kind, "seq": f.Seq, "nonce": f.Nonce,
			"captured_at": f.CapturedAt.UnixMilli(), "source": f.Source, "image": base64.StdEncoding.EncodeToString(img), "mac": f.MAC}, &next); err != nil {
			t.Fatalf("frame %d: %v", i+1, err)
		}
		nonce = next.NextNonce
	}
	if _, err := a.db.Exec(ctx, `UPDATE ekyc_sessions SET state = 'decided', outcome = 'approved', decided_at = ? WHERE id = ?`,
		store.Micros(time.Now()), s.ID); err != nil {
		t.Fatal(err)
	}
	var cu struct{ ID string }
	if err := c.call(ctx, "POST", "/v1/customers", map[string]string{"session": s.ID, "reference": reference}, &cu); err != nil {
		t.Fatal(err)
	}
	return cu.ID
}

// newChainBranch makes a branch device as `branch init` and `branch serve`
// do (its own folder, keys, SQLite store and log; the real face engine),
// enrols it with two admins of the tenant through the credential service
// on the server's data folder (as an operator tool would; the portal's
// device pages are TestCredentialPages' subject) and pins the issuer key
// the server publishes over HTTP.
func newChainBranch(t *testing.T, ctx context.Context, a *app, es *ekyc.Service, srv *serverProc, tenantID string, eng *face.Engine) *branchApp {
	t.Helper()
	bdir := t.TempDir()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	if err := runBranch(ctx, e, []string{"init", "--data", bdir, "--name", "shinjuku-3"}); err != nil {
		t.Fatalf("branch init: %v (%s)", err, errb.String())
	}
	code := ""
	for _, f := range strings.Fields(out.String()) {
		if strings.HasPrefix(f, credential.EnrolmentCodePrefix) {
			code = f
		}
	}
	ik, err := credential.LoadIssuerKey(filepath.Join(a.data.keysDir(), "credential-issuer.key"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := credential.New(credential.Config{DB: a.db, Audit: a.audit, Vault: a.vault, Issuer: ik, IssuerName: credentialIssuerName,
		Customers: credentialCustomers{es}, Templates: noTemplates{}})
	if err != nil {
		t.Fatal(err)
	}
	admin := func(id string) credential.Staff {
		return credential.Staff{ID: id, TenantID: tenantID, Roles: []string{"admin"}}
	}
	dev, err := svc.RequestDevice(ctx, admin("st_admin1"), tenantID, "Shinjuku 3", code)
	if err != nil {
		t.Fatalf("RequestDevice(%q): %v", code, err)
	}
	if _, err := svc.ApproveDevice(ctx, admin("st_admin2"), dev.ID); err != nil {
		t.Fatal(err)
	}
	var published struct {
		Keys []credential.PublicKeyJSON `json:"keys"`
	}
	resp, err := http.Get(srv.url() + "/v1/credential/issuer-keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&published); err != nil || len(published.Keys) == 0 {
		t.Fatalf("issuer keys: %v (%d)", err, len(published.Keys))
	}
	hk, logSigner, ns, err := loadBranchKeys(bdir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(bdir, "branch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	lg, err := audit.New(db, logSigner)
	if err != nil {
		t.Fatal(err)
	}
	counter, err := credential.NewCounter(credential.CounterConfig{Device: dev.ID, DeviceKey: hk, IssuerKids: []string{published.Keys[0].Kid},
		Engine: engineBytes{eng}, DB: db, Log: lg})
	if err != nil {
		t.Fatal(err)
	}
	return &branchApp{log: slog.New(slog.DiscardHandler), dir: bdir, server: srv.url(), device: dev.ID, counter: counter, db: db, audit: lg,
		signer: ns, client: &http.Client{Timeout: 10 * time.Second}}
}

// branchDecide scans text and films who performing the drawn challenge.
func branchDecide(t *testing.T, ctx context.Context, counter *credential.Counter, eng *face.Engine, text string, who *image.RGBA) *credential.Decision {
	t.Helper()
	scan, dec, err := counter.Scan(ctx, text)
	if err != nil || dec != nil {
		t.Fatalf("Scan = %+v, %v", dec, err)
	}
	nonce := scan.Nonce
	for _, img := range challengeFrames(t, eng, who, scan.Steps) {
		if nonce, err = counter.Frame(scan.Session, nonce, img); err != nil {
			t.Fatal(err)
		}
	}
	d, err := counter.Decide(ctx, scan.Session)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// noTemplates: device enrolment reads no face template.
type noTemplates struct{}

func (noTemplates) CredentialTemplate(context.Context, credential.Actor, string, string) (face.Template, error) {
	return face.Template{}, credential.ErrNoTemplate
}
