package main

// `madoguchi dev session`: the test kit's second half. It runs one whole ヘ
// session against a running server, as a registered test kiosk would: it
// opens the session over the API, posts the chip files read by "its
// reader", plays the capture page's part (redeems the one-time capture
// link, posts each selfie as a camera frame bound to the session with
// ekyc.FrameMAC and the server's nonce chain), submits, waits for the
// decision and prints it as one JSON object:
//
//	{"session": "ses_…", "state": "decided", "decision": "rejected",
//	 "reasons": [{"code": "liveness.still_image", "action": "reject", "detail": "…"}],
//	 "scores": {"face_match": 0.97, "liveness": 0.36}}
//
// Still selfies cannot pass the active liveness challenge: the server's
// reasons say so (liveness.still_image or liveness.challenge_failed), and
// the kit never hides or rewrites a reason.
//
// The kiosk is either an existing API client (--client-id, --key; its
// tenant needs an eKYC policy and the scopes ekyc:sessions, ekyc:device and
// ekyc:results) or, by default, a test kiosk registered once in the
// development data directory (--data; refused for any other): a tenant
// with the example policy and a client whose key is kept at
// <data>/dev-kiosk/key.pem.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/internal/atomicfile"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/web"
)

// Limits of dev session's inputs.
const (
	maxSelfies      = 30 // ekyc.MaxFrames bounds the session anyway
	maxChipDirFiles = 64
)

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// devSessionResult is what dev session prints.
type devSessionResult struct {
	Session  string             `json:"session"`
	State    string             `json:"state"`
	Decision string             `json:"decision"`
	Reasons  []ekyc.Reason      `json:"reasons"`
	Scores   map[string]float64 `json:"scores"`
	Notes    []string           `json:"notes,omitempty"`
	// Result is the payload of GET /result of an approved ワ session, after
	// its JWS verified with the server's JWKS: what the tenant receives.
	Result json.RawMessage `json:"result,omitempty"`
	// decisionLatency is the time from the start of the submit call (the
	// last capture) to the moment the session was seen decided; the
	// benchmark reads it.
	decisionLatency time.Duration
}

// sessionPlan is what one scripted session sends: chip files for ヘ,
// document photos for ホ, and the selfie frames.
type sessionPlan struct {
	method  string // "he" or "ho"
	kind    document.Kind
	chip    map[string][]byte
	docs    []docFrame
	selfies [][]byte
	locale  string
	webhook string      // optional result webhook URL
	jpki    *jpkiSigner // method wa: the test card (devjpki.go)
	wait    time.Duration
	poll    time.Duration
}

// docFrame is one photo of the ID document for ホ.
type docFrame struct {
	kind ekyc.FrameKind
	img  []byte
}

func devSession(ctx context.Context, e *env, args []string) error {
	const synopsis = "dev session --server URL (--method he --chip DIR --selfie FILE [--selfie FILE…] [--kind KIND] | --method wa [--form raw|cms]) [--client-id ID --key FILE | --data DIR] [--wait DURATION]"
	fs := newFlagSet(e, "dev session", synopsis)
	var d dataFlags
	d.register(fs, e)
	server := fs.String("server", "http://127.0.0.1:8080", "server URL")
	aud := fs.String("audience", "", "the server's public URL, if it differs from --server")
	method := fs.String("method", "he", "legal method: he (IC chip + live face) or wa (JPKI, the test card of 'dev jpki init'); ho needs the capture page")
	form := fs.String("form", "raw", "with --method wa: the card's signature form, raw or cms")
	chipDir := fs.String("chip", "", "directory of chip files (as written by 'madoguchi dev chip')")
	kindFlag := fs.String("kind", "", "chip kind: jpdl, mynumber or residence (default: from the file names)")
	var selfies repeated
	fs.Var(&selfies, "selfie", "a selfie image (JPEG or PNG); repeat for a sequence of frames")
	clientID := fs.String("client-id", "", "kiosk API client id (default: a test kiosk registered in the development data directory)")
	keyFile := fs.String("key", "", "kiosk client private key (PEM), with --client-id")
	locale := fs.String("locale", "ja", "session locale: ja or en")
	wait := fs.Duration("wait", 2*time.Minute, "how long to wait for the decision")
	refer := fs.Bool("refer", false, "refer the session to a reviewer instead of rejecting it: a test kiosk of the --tenant (the tenant of 'dev portal') with a refer-everything policy; without --chip and --selfie, a TEST licence and the source tree's test selfies (devsession_refer.go)")
	referTenant := fs.String("tenant", "Development Bank", "with --refer: the tenant whose reviewers see the session (as created by 'dev portal --tenant')")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *refer {
		switch {
		case *method != "he":
			return usageError{"--refer runs method he (ホ needs the capture page)"}
		case *clientID != "":
			return usageError{"--refer uses its own test kiosk; it takes no --client-id"}
		case *chipDir == "" && len(selfies) > maxSelfies:
			return usageError{fmt.Sprintf("at most %d --selfie files", maxSelfies)}
		case *chipDir == "":
			files, imgs, err := referInputs(d, selfies)
			if err != nil {
				return err
			}
			return devReferSession(ctx, e, d, *server, *aud, *referTenant, *locale, *wait, files, imgs)
		}
	}
	switch {
	case fs.NArg() > 0:
		return usageError{"dev session takes no arguments; usage: madoguchi " + synopsis}
	case *method != "he" && *method != "wa":
		return usageError{fmt.Sprintf("--method %q: dev session runs method he only, or wa with the test card of 'dev jpki init' (ホ needs document photos from the capture page)", *method)}
	case *method == "wa" && (*chipDir != "" || len(selfies) > 0):
		return usageError{"--method wa takes no --chip or --selfie: the test card signs the server's challenge"}
	case *method == "wa" && *form != "raw" && *form != "cms":
		return usageError{fmt.Sprintf("--form %q: want raw or cms", *form)}
	case *method == "wa":
	case *chipDir == "":
		return usageError{"dev session needs --chip DIR"}
	case len(selfies) == 0:
		return usageError{"dev session needs at least one --selfie FILE"}
	case len(selfies) > maxSelfies:
		return usageError{fmt.Sprintf("at most %d --selfie files", maxSelfies)}
	case (*clientID == "") != (*keyFile == ""):
		return usageError{"--client-id and --key go together"}
	case *wait <= 0:
		return usageError{"--wait must be positive"}
	}
	var notes []string
	plan := sessionPlan{method: *method, locale: *locale, wait: *wait, poll: time.Second}
	if *method == "wa" {
		card, err := loadDevJPKI(d.data)
		if err != nil {
			return err
		}
		plan.jpki = &jpkiSigner{card: card, form: *form}
	} else {
		kind, files, skipped, err := readChipDir(*chipDir, document.Kind(*kindFlag))
		if err != nil {
			return err
		}
		for _, s := range skipped {
			notes = append(notes, "not sent: "+s)
		}
		images := make([][]byte, len(selfies))
		for i, p := range selfies {
			if images[i], err = readLimited(p, ekyc.MaxImageBytes); err != nil {
				return err
			}
		}
		plan.kind, plan.chip, plan.selfies = kind, files, images
	}
	var err error

	var c *apiClient
	if *clientID != "" {
		if c, err = loadAPIClient(*server, *aud, *clientID, *keyFile); err != nil {
			return err
		}
	} else {
		var id, key, note string
		if *refer {
			id, key, note, err = devReferKiosk(ctx, d, *referTenant)
		} else {
			id, key, note, err = devKiosk(ctx, d)
		}
		if err != nil {
			return err
		}
		if note != "" {
			notes = append(notes, note)
		}
		if c, err = loadAPIClient(*server, *aud, id, key); err != nil {
			return err
		}
	}

	res, err := runDevSession(ctx, c, plan)
	reviewServer := ""
	if *refer {
		reviewServer = *server
	}
	return reportDevSession(e, res, err, notes, reviewServer)
}

// reportDevSession prints res (if any) as indented JSON, notes before its
// own, with the portal link to review it when reviewServer is set, and
// returns err or else a failure to print.
func reportDevSession(e *env, res *devSessionResult, err error, notes []string, reviewServer string) error {
	if res == nil {
		return err
	}
	if reviewServer != "" && res.Session != "" {
		notes = append(notes, "review it in the portal as dev-reviewer: "+portalReviewURL(reviewServer, res.Session))
	}
	res.Notes = append(notes, res.Notes...)
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if werr := enc.Encode(res); werr != nil && err == nil {
		err = werr
	}
	return err
}

// runDevSession plays one session through: create, chip, capture, submit,
// wait. It returns what it knows even when a step fails after creation.
func runDevSession(ctx context.Context, c *apiClient, p sessionPlan) (*devSessionResult, error) {
	if p.poll <= 0 {
		p.poll = time.Second
	}
	var s struct {
		ID         string         `json:"id"`
		State      string         `json:"state"`
		CaptureURL string         `json:"capture_url"`
		Decision   *ekyc.Decision `json:"decision"`
	}
	create := map[string]string{"method": p.method, "reference": "dev-session", "locale": p.locale}
	if p.webhook != "" {
		create["webhook"] = p.webhook
	}
	if err := c.call(ctx, "POST", "/v1/ekyc/sessions", create, &s); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	res := &devSessionResult{Session: s.ID, State: s.State, Scores: map[string]float64{}}
	if p.jpki != nil {
		return runJPKISession(ctx, c, res, s.ID, p)
	}
	_, token, ok := strings.Cut(s.CaptureURL, "#t=")
	if !ok || token == "" {
		return res, errors.New("create session: the answer has no capture token")
	}

	// The kiosk's reader (ヘ).
	if len(p.chip) > 0 {
		enc := make(map[string]string, len(p.chip))
		for n, b := range p.chip {
			enc[n] = base64.StdEncoding.EncodeToString(b)
		}
		var chipSum struct {
			Verified bool     `json:"verified"`
			Failed   []string `json:"failed_checks"`
		}
		if err := c.call(ctx, "POST", "/v1/ekyc/sessions/"+s.ID+"/chip", map[string]any{"kind": p.kind, "files": enc}, &chipSum); err != nil {
			return res, fmt.Errorf("post chip files: %w", err)
		}
		if !chipSum.Verified {
			res.Notes = append(res.Notes, "the server did not verify the chip files: "+strings.Join(chipSum.Failed, ", "))
		}
	}

	// The capture page's part.
	var start struct {
		SessionID  string      `json:"session_id"`
		Challenge  []ekyc.Step `json:"challenge"`
		Key        string      `json:"capture_key"`
		FrameNonce string      `json:"frame_nonce"`
	}
	if err := c.capture(ctx, "start", "Capture "+token, nil, &start); err != nil {
		return res, fmt.Errorf("redeem the capture link: %w", err)
	}
	key, err := base64.RawURLEncoding.DecodeString(start.Key)
	if err != nil {
		return res, errors.New("capture start: the capture key is not base64url")
	}
	steps := make([]string, len(start.Challenge))
	for i, st := range start.Challenge {
		steps[i] = string(st)
	}
	res.Notes = append(res.Notes, fmt.Sprintf("the server's active liveness challenge was %s; %d still selfie(s) were sent, and still images cannot pass it",
		strings.Join(steps, ", "), len(p.selfies)))
	nonce := start.FrameNonce
	frames := append([]docFrame(nil), p.docs...)
	for _, img := range p.selfies {
		frames = append(frames, docFrame{ekyc.FrameSelfie, img})
	}
	for i, fr := range frames {
		img := fr.img
		f := ekyc.Frame{Kind: fr.kind, Seq: i + 1, Nonce: nonce, CapturedAt: time.Now().UTC().Truncate(time.Millisecond),
			Source: ekyc.SourceCamera, Image: img}
		f.MAC = base64.RawURLEncoding.EncodeToString(ekyc.FrameMAC(key, start.SessionID, &f))
		var next struct {
			NextNonce string `json:"next_nonce"`
		}
		err := c.capture(ctx, "frames", "Capture-Key "+start.Key, map[string]any{
			"kind": f.Kind, "seq": f.Seq, "nonce": f.Nonce, "captured_at": f.CapturedAt.UnixMilli(), "source": f.Source,
			"image": base64.StdEncoding.EncodeToString(img), "mac": f.MAC}, &next)
		if err != nil {
			return res, fmt.Errorf("frame %d (%s): %w", i+1, fr.kind, err)
		}
		nonce = next.NextNonce
	}
	submitted := time.Now()
	if err := c.capture(ctx, "submit", "Capture-Key "+start.Key, nil, nil); err != nil {
		return res, fmt.Errorf("submit: %w", err)
	}

	// The decision (the submit decides at once unless the face engine is
	// busy; then the server's background job decides it).
	deadline := time.Now().Add(p.wait)
	for {
		if err := c.call(ctx, "GET", "/v1/ekyc/sessions/"+s.ID, nil, &s); err != nil {
			return res, fmt.Errorf("get session: %w", err)
		}
		res.State = s.State
		if s.State == string(ekyc.StateDecided) && s.Decision != nil {
			res.decisionLatency = time.Since(submitted)
			break
		}
		if !time.Now().Before(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(p.poll):
		}
	}
	if s.Decision == nil {
		return res, fmt.Errorf("no decision after %s (state %s): are the server's face models installed?", p.wait, s.State)
	}
	res.Decision = string(s.Decision.Outcome)
	res.Reasons = s.Decision.Reasons
	for _, k := range []string{"face_match", "liveness"} {
		if v, ok := s.Decision.Scores[k]; ok {
			res.Scores[k] = v
		}
	}
	return res, nil
}

// capture calls one of the capture page's endpoints with its credential.
func (c *apiClient) capture(ctx context.Context, op, auth string, body, out any) error {
	b := []byte("{}")
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/ekyc/capture/"+op, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth)
	return c.do(req, out)
}

// readChipDir reads the chip files in dir, named as 'madoguchi dev chip'
// writes them and the server expects (package chip's naming). Files that
// are not chip files of the kind are listed in skipped and not sent; the
// My Number files are never sent.
func readChipDir(dir string, kind document.Kind) (document.Kind, map[string][]byte, []string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", nil, nil, err
	}
	if len(ents) > maxChipDirFiles {
		return "", nil, nil, fmt.Errorf("%s: more than %d files", dir, maxChipDirFiles)
	}
	var names, skipped []string
	for _, ent := range ents {
		switch n := ent.Name(); {
		case !ent.Type().IsRegular():
		case len(chip.KindsOf(n)) == 0:
			skipped = append(skipped, n+" (not a chip file)")
		default:
			names = append(names, n)
		}
	}
	if kind == "" {
		if kind, err = chip.Detect(names); err != nil {
			return "", nil, nil, fmt.Errorf("%s: %w (give --kind)", dir, err)
		}
	} else if chip.FileNames(kind) == nil {
		return "", nil, nil, usageError{fmt.Sprintf("--kind %q: want jpdl, mynumber or residence", kind)}
	}
	files := map[string][]byte{}
	for _, n := range names {
		canon, ok := chip.FileName(kind, n)
		switch {
		case !ok:
			skipped = append(skipped, n+" (not a "+string(kind)+" chip file)")
			continue
		case kind == document.KindMyNumber && (canon == "textap_ef01" || canon == "visualap_ef05"):
			skipped = append(skipped, n+" (holds the My Number, which is never sent)")
			continue
		}
		if _, dup := files[canon]; dup {
			return "", nil, nil, fmt.Errorf("%s: two files hold %s", dir, canon)
		}
		b, err := chip.ReadFileLimited(filepath.Join(dir, n), chip.MaxFile)
		if err != nil {
			return "", nil, nil, err
		}
		files[canon] = b
	}
	if len(files) == 0 {
		return "", nil, nil, fmt.Errorf("%s: no %s chip files", dir, kind)
	}
	sort.Strings(skipped)
	return kind, files, skipped, nil
}

// devKiosk returns the development data directory's test kiosk (client id
// and key file), registering it on first use: a tenant with the example
// eKYC policy (threshold from <data>/face-calibration.json if present) and
// a client with the kiosk scopes.
func devKiosk(ctx context.Context, d dataFlags) (id, keyFile, note string, err error) {
	if !isDevelopment(d.data) {
		return "", "", "", fmt.Errorf("%s is not a development data directory (no %s marker): give --client-id and --key of a registered kiosk", d.data, devMarker)
	}
	dir := filepath.Join(d.data, "dev-kiosk")
	if id, keyFile, ok := savedDevKiosk(dir, ""); ok {
		return id, keyFile, "", nil
	}
	a, err := openApp(ctx, modeDevelopment, d, slog.New(slog.DiscardHandler), true)
	if err != nil {
		return "", "", "", err
	}
	defer a.Close()
	svc, err := a.newEKYC("http://dev-kiosk.invalid") // only to store the policy
	if err != nil {
		return "", "", "", err
	}
	p, calibrated, err := devExamplePolicy(d)
	if err != nil {
		return "", "", "", err
	}
	note = "registered a test kiosk in " + dir + " with the example policy"
	if !calibrated {
		note += " (no face calibration: face matches are referred to a reviewer)"
	}
	op := tenant.Actor{Kind: "system", ID: "dev-session", OSUser: osUser()}
	ten, err := a.tenants.CreateTenant(ctx, op, "Development kiosk")
	if err != nil {
		return "", "", "", err
	}
	if _, err := svc.SetPolicy(ctx, ekyc.Actor{Kind: "system", ID: "dev-session"}, ten.ID, p); err != nil {
		return "", "", "", err
	}
	id, keyFile, err = registerDevKiosk(ctx, a, op, ten, "Development kiosk (dev)", dir)
	if err != nil {
		return "", "", "", err
	}
	return id, keyFile, note, nil
}

// savedDevKiosk returns the test kiosk that registerDevKiosk saved in dir,
// if its client id and key file are both there and, for a tenantName, it
// belongs to that tenant.
func savedDevKiosk(dir, tenantName string) (id, keyFile string, ok bool) {
	keyFile = filepath.Join(dir, "key.pem")
	var saved struct {
		ClientID string `json:"client_id"`
		Tenant   string `json:"tenant"`
	}
	b, err := readLimited(filepath.Join(dir, "client.json"), 4096)
	if err != nil || json.Unmarshal(b, &saved) != nil || saved.ClientID == "" {
		return "", "", false
	}
	if tenantName != "" && !strings.EqualFold(saved.Tenant, tenantName) {
		return "", "", false
	}
	if _, err := os.Stat(keyFile); err != nil {
		return "", "", false
	}
	return saved.ClientID, keyFile, true
}

// registerDevKiosk registers a client named name with the kiosk scopes in
// tenant ten, with a fresh P-256 key under kid dev-1 (which loadAPIClient
// signs with), and saves it in dir (key.pem and client.json, 0600; the
// folder 0700) for savedDevKiosk.
func registerDevKiosk(ctx context.Context, a *app, op tenant.Actor, ten tenant.Tenant, name, dir string) (id, keyFile string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	jwks, err := publicJWKS("dev-1", key)
	if err != nil {
		return "", "", err
	}
	var cl tenant.Client
	err = a.db.InTx(ctx, func(tx *store.Tx) error {
		cl, err = a.tenants.CreateClientTx(ctx, tx, op, ten.ID, tenant.ClientSpec{Name: name,
			Scopes: []string{web.ScopeEKYCSessions, web.ScopeEKYCDevice, web.ScopeEKYCResults}, JWKS: jwks})
		return err
	})
	if err != nil {
		return "", "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	keyFile = filepath.Join(dir, "key.pem")
	if err := atomicfile.Write(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	b, _ := json.Marshal(map[string]string{"tenant_id": ten.ID, "tenant": ten.Name, "client_id": cl.ID})
	if err := atomicfile.Write(filepath.Join(dir, "client.json"), b, 0o600); err != nil {
		return "", "", err
	}
	return cl.ID, keyFile, nil
}
