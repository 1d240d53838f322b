package main

// `madoguchi dev jpki`: a TEST My Number card for method ワ in a development
// data directory, and the kiosk's card-reader part of `dev session --method
// wa`.
//
//	dev jpki init [--data DIR] [--name N --birthdate YYYY-MM-DD --sex male|female --address A] [--force]
//	dev jpki crl  [--data DIR] [--revoke]
//
// init creates a TEST J-LIS-shaped hierarchy (signing and user-
// authentication roots, document/jpki/jpkitest's profile) and one test card
// (a signing and an authentication key pair and certificate, the signing
// one carrying the given basic-4 attributes). Keys (PKCS#8 PEM, 0600) and
// certificates are kept in <data>/keys/dev-jpki/; the roots are copied to
// <data>/trust/jpki-dev/ and fresh CRLs to <data>/trust/jpki-crl/, which is
// what a development server needs to enable ワ (ekyc_jpki_wire.go). The
// development kiosk's policy gains method wa.
//
// crl writes fresh CRLs (valid 24 hours; the server refuses a stale one
// with 503, never "not revoked"); --revoke lists the test card's
// certificates in them, so the next ワ session is rejected with
// jpki.revoked. A running server re-reads the CRL folder; it reads the
// roots only at start-up.
//
// Invariants: the commands refuse any data directory without the
// development marker, so TEST roots never reach a production trust store
// through them; a production server ignores <data>/trust/jpki-dev anyway.
// Card keys never leave <data>/keys/dev-jpki/ and never appear in output.

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/internal/atomicfile"
)

// devJPKIDir is the test card's folder under <data>/keys.
const devJPKIDir = "dev-jpki"

// Files of the stored hierarchy: certificate (.pem) and key (.key) per name.
var devJPKINames = []string{"sign_root", "auth_root", "card_sign", "card_auth"}

// errNoDevJPKI: dev jpki init has not been run on the data directory.
var errNoDevJPKI = errors.New("no test JPKI card in this data directory: run 'madoguchi dev jpki init' first")

// devJPKICard is the stored test hierarchy and card.
type devJPKICard struct {
	pki        *jpkitest.PKI
	sign, auth *jpkitest.Card
}

// LogValue keeps the card's keys out of logs.
func (c *devJPKICard) LogValue() slog.Value { return slog.StringValue("[dev jpki test card]") }

func devJPKI(ctx context.Context, e *env, args []string) error {
	const synopsis = "dev jpki init [--data DIR] [--name NAME --birthdate YYYY-MM-DD --sex male|female --address ADDRESS] [--force] | dev jpki crl [--data DIR] [--revoke]"
	if len(args) == 0 {
		return usageError{"usage: madoguchi " + synopsis}
	}
	switch args[0] {
	case "init":
		return devJPKIInit(ctx, e, args[1:])
	case "crl":
		return devJPKICRL(e, args[1:])
	}
	return usageError{fmt.Sprintf("unknown dev jpki subcommand %q; usage: madoguchi %s", args[0], synopsis)}
}

func devJPKIInit(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "dev jpki init", "dev jpki init [--data DIR] [--name NAME --birthdate YYYY-MM-DD --sex male|female --address ADDRESS] [--force]")
	var d dataFlags
	d.register(fs, e)
	def := jpkitest.TaroYamada()
	name := fs.String("name", def.Name, "the card holder's name (family and given name, full-width space between)")
	birth := fs.String("birthdate", "1990-01-02", "date of birth, YYYY-MM-DD")
	sex := fs.String("sex", "male", "male or female")
	address := fs.String("address", def.Address, "registered address")
	force := fs.Bool("force", false, "replace an existing test hierarchy and card (a running server must then be restarted)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"dev jpki init takes no arguments"}
	}
	bd, err := time.Parse("2006-01-02", *birth)
	if err != nil {
		return usageError{fmt.Sprintf("--birthdate %q: want YYYY-MM-DD", *birth)}
	}
	code := map[string]string{"male": jpki.SexMale, "female": jpki.SexFemale}[*sex]
	if code == "" {
		return usageError{fmt.Sprintf("--sex %q: want male or female", *sex)}
	}
	person, err := jpkitest.NewPerson(*name, code, bd, *address)
	if err != nil {
		return usageError{err.Error()}
	}
	if !isDevelopment(d.data) {
		return fmt.Errorf("%s is not a development data directory (no %s marker): TEST JPKI roots go only into development data directories", d.data, devMarker)
	}
	keyDir := filepath.Join(d.data, "keys", devJPKIDir)
	if _, err := os.Stat(filepath.Join(keyDir, "card_sign.pem")); err == nil && !*force {
		return fmt.Errorf("%s already holds a test card; give --force to replace it (and restart a running server)", keyDir)
	}

	p, err := jpkitest.New(jpkitest.Options{Keys: 2})
	if err != nil {
		return err
	}
	sign, err := p.Issue(jpkitest.CardOptions{Usage: jpki.UsageSign, Person: person})
	if err != nil {
		return err
	}
	auth, err := p.Issue(jpkitest.CardOptions{Usage: jpki.UsageAuth})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		return err
	}
	parts := map[string]struct {
		cert *x509.Certificate
		key  *rsa.PrivateKey
	}{
		"sign_root": {p.Sign.Cert, p.Sign.Key}, "auth_root": {p.Auth.Cert, p.Auth.Key},
		"card_sign": {sign.Cert, sign.Key}, "card_auth": {auth.Cert, auth.Key},
	}
	for _, n := range devJPKINames {
		der, err := x509.MarshalPKCS8PrivateKey(parts[n].key)
		if err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(keyDir, n+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(keyDir, n+".pem"), jpkiPEMCert(parts[n].cert), 0o600); err != nil {
			return err
		}
	}
	trustDir := filepath.Join(d.data, "trust", jpkiDevDir)
	if err := os.MkdirAll(trustDir, 0o700); err != nil {
		return err
	}
	for _, n := range []string{"sign_root", "auth_root"} {
		if err := atomicfile.Write(filepath.Join(trustDir, "dev_"+n+".pem"), jpkiPEMCert(parts[n].cert), 0o644); err != nil {
			return err
		}
	}
	card := &devJPKICard{pki: p, sign: sign, auth: auth}
	if err := writeDevJPKICRLs(d.data, card, false); err != nil {
		return err
	}
	note, err := devKioskAllow(ctx, d, "wa")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "TEST JPKI hierarchy and card in %s (signing certificate serial %X)\n", keyDir, sign.Cert.SerialNumber)
	fmt.Fprintf(e.stdout, "trusted by a development server through %s and %s\n", trustDir, filepath.Join(d.data, "trust", jpkiCRLDir))
	if note != "" {
		fmt.Fprintln(e.stdout, note)
	}
	fmt.Fprintln(e.stdout, "restart a running development server: it reads JPKI roots only at start-up. CRLs last 24 hours; renew them with 'madoguchi dev jpki crl'.")
	return nil
}

func devJPKICRL(e *env, args []string) error {
	fs := newFlagSet(e, "dev jpki crl", "dev jpki crl [--data DIR] [--revoke]")
	var d dataFlags
	d.register(fs, e)
	revoke := fs.Bool("revoke", false, "list the test card's certificates as revoked")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"dev jpki crl takes no arguments"}
	}
	card, err := loadDevJPKI(d.data)
	if err != nil {
		return err
	}
	if err := writeDevJPKICRLs(d.data, card, *revoke); err != nil {
		return err
	}
	what := "fresh CRLs (the test card is not revoked)"
	if *revoke {
		what = fmt.Sprintf("CRLs revoking the test card (signing certificate serial %X)", card.sign.Cert.SerialNumber)
	}
	fmt.Fprintf(e.stdout, "wrote %s to %s; a running server re-reads the folder\n", what, filepath.Join(d.data, "trust", jpkiCRLDir))
	return nil
}

// writeDevJPKICRLs writes a signing and an authentication CRL, numbered by
// the clock so a newer one has the larger number.
func writeDevJPKICRLs(data string, c *devJPKICard, revoke bool) error {
	dir := filepath.Join(data, "trust", jpkiCRLDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, x := range []struct {
		file string
		ca   *jpkitest.CA
		card *jpkitest.Card
	}{{"dev_sign.crl", c.pki.Sign, c.sign}, {"dev_auth.crl", c.pki.Auth, c.auth}} {
		o := jpkitest.CRLOptions{Number: time.Now().UnixNano()}
		if revoke {
			o.Revoked = []*x509.Certificate{x.card.Cert}
		}
		der, err := c.pki.CRL(x.ca, o)
		if err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(dir, x.file), der, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// loadDevJPKI reads the stored hierarchy and card of a development data
// directory and checks that they belong together.
func loadDevJPKI(data string) (*devJPKICard, error) {
	if !isDevelopment(data) {
		return nil, fmt.Errorf("%s is not a development data directory (no %s marker)", data, devMarker)
	}
	dir := filepath.Join(data, "keys", devJPKIDir)
	certs := map[string]*x509.Certificate{}
	keys := map[string]*rsa.PrivateKey{}
	for _, n := range devJPKINames {
		cb, err := readLimited(filepath.Join(dir, n+".pem"), jpki.MaxCertificateSize*2)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errNoDevJPKI
		} else if err != nil {
			return nil, err
		}
		blk, _ := pem.Decode(cb)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s.pem: no PEM certificate", n)
		}
		if certs[n], err = x509.ParseCertificate(blk.Bytes); err != nil {
			return nil, fmt.Errorf("%s.pem: %w", n, err)
		}
		kb, err := readLimited(filepath.Join(dir, n+".key"), 16<<10)
		if err != nil {
			return nil, err
		}
		if blk, _ = pem.Decode(kb); blk == nil || blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("%s.key: no PEM private key", n)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s.key: %w", n, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s.key: not an RSA key", n)
		}
		keys[n] = rk
	}
	p, err := jpkitest.FromCAs(&jpkitest.CA{Cert: certs["sign_root"], Key: keys["sign_root"]},
		&jpkitest.CA{Cert: certs["auth_root"], Key: keys["auth_root"]}, jpkitest.Options{})
	if err != nil {
		return nil, err
	}
	c := &devJPKICard{pki: p, sign: &jpkitest.Card{Cert: certs["card_sign"], Key: keys["card_sign"]},
		auth: &jpkitest.Card{Cert: certs["card_auth"], Key: keys["card_auth"]}}
	for _, x := range []struct {
		card *jpkitest.Card
		ca   *jpkitest.CA
		n    string
	}{{c.sign, p.Sign, "card_sign"}, {c.auth, p.Auth, "card_auth"}} {
		pub, ok := x.card.Cert.PublicKey.(*rsa.PublicKey)
		if !ok || !pub.Equal(&x.card.Key.PublicKey) {
			return nil, fmt.Errorf("%s: certificate and key do not match", x.n)
		}
		if err := x.card.Cert.CheckSignatureFrom(x.ca.Cert); err != nil {
			return nil, fmt.Errorf("%s: not issued by the stored root: %w", x.n, err)
		}
	}
	return c, nil
}

// devKioskAllow adds method to the development kiosk's policy, registering
// the kiosk first if needed, and says what it changed.
func devKioskAllow(ctx context.Context, d dataFlags, method string) (string, error) {
	_, _, note, err := devKiosk(ctx, d)
	if err != nil {
		return "", err
	}
	b, err := readLimited(filepath.Join(d.data, "dev-kiosk", "client.json"), 4096)
	if err != nil {
		return "", err
	}
	var saved struct {
		TenantID string `json:"tenant_id"`
	}
	if err := json.Unmarshal(b, &saved); err != nil || saved.TenantID == "" {
		return "", errors.New("dev-kiosk/client.json: no tenant_id")
	}
	a, err := openApp(ctx, modeDevelopment, d, slog.New(slog.DiscardHandler), true)
	if err != nil {
		return "", err
	}
	defer a.Close()
	svc, err := a.newEKYC("http://dev-kiosk.invalid") // only to store the policy
	if err != nil {
		return "", err
	}
	pol, _, err := svc.Policy(ctx, saved.TenantID)
	if err != nil {
		return "", err
	}
	if slices.Contains(pol.Methods, method) {
		return note, nil
	}
	pol.Methods = append(pol.Methods, method)
	if _, err := svc.SetPolicy(ctx, ekyc.Actor{Kind: "system", ID: "dev-jpki"}, saved.TenantID, pol); err != nil {
		return "", err
	}
	if note != "" {
		note += "; "
	}
	return note + "the development kiosk's policy now allows method " + method, nil
}

// jpkiSigner is the kiosk's card reader in a ワ session plan.
type jpkiSigner struct {
	card *devJPKICard
	form string // "raw" or "cms"
}

// sign signs one issued challenge with the card key its purpose needs.
func (j *jpkiSigner) sign(purpose string, challenge []byte) (map[string]any, error) {
	card := j.card.sign
	if purpose == ekyc.JPKIPurposeLink {
		card = j.card.auth
	}
	var (
		sig []byte
		err error
	)
	if j.form == "cms" {
		sig, err = card.SignCMS(challenge, jpkitest.CMSOptions{EmbedCert: true})
	} else {
		sig, err = card.SignRaw(challenge)
	}
	if err != nil {
		return nil, err
	}
	enc := base64.StdEncoding.EncodeToString
	return map[string]any{"form": j.form, "signature": enc(sig), "certificate": enc(card.DER()), "challenge": enc(challenge)}, nil
}

// runJPKISession is the ワ part of runDevSession: fetch the session's
// challenges, sign them with the test card, submit, read the decision and,
// when approved, the signed result (verified with the server's JWKS).
func runJPKISession(ctx context.Context, c *apiClient, res *devSessionResult, id string, p sessionPlan) (*devSessionResult, error) {
	var chs struct {
		Challenges []struct {
			Purpose   string `json:"purpose"`
			Challenge string `json:"challenge"`
		} `json:"challenges"`
	}
	if err := c.call(ctx, "POST", "/v1/ekyc/sessions/"+id+"/jpki/challenges", map[string]any{}, &chs); err != nil {
		return res, fmt.Errorf("jpki challenges: %w", err)
	}
	body := map[string]any{}
	for _, ch := range chs.Challenges {
		b, err := base64.StdEncoding.DecodeString(ch.Challenge)
		if err != nil || len(b) > jpki.MaxChallengeSize {
			return res, fmt.Errorf("jpki challenges: %s challenge is not standard base64 of at most %d bytes", ch.Purpose, jpki.MaxChallengeSize)
		}
		sig, err := p.jpki.sign(ch.Purpose, b)
		if err != nil {
			return res, err
		}
		switch ch.Purpose {
		case ekyc.JPKIPurposeSign:
			body["sign"] = sig
		case ekyc.JPKIPurposeLink:
			body["auth"] = sig
		}
	}
	if body["sign"] == nil {
		return res, errors.New("jpki challenges: the server issued no signing challenge")
	}
	if err := c.call(ctx, "POST", "/v1/ekyc/sessions/"+id+"/jpki/signature", body, nil); err != nil {
		return res, fmt.Errorf("jpki signature: %w", err)
	}
	var s struct {
		State    string         `json:"state"`
		Decision *ekyc.Decision `json:"decision"`
	}
	if err := c.call(ctx, "GET", "/v1/ekyc/sessions/"+id, nil, &s); err != nil {
		return res, fmt.Errorf("get session: %w", err)
	}
	res.State = s.State
	if s.Decision == nil {
		return res, fmt.Errorf("the server has not decided the ワ session (state %s)", s.State)
	}
	res.Decision, res.Reasons = string(s.Decision.Outcome), s.Decision.Reasons
	if s.Decision.Outcome != ekyc.OutcomeApproved {
		return res, nil
	}
	payload, err := fetchVerifiedResult(ctx, c, id)
	if err != nil {
		return res, err
	}
	res.Result = payload
	return res, nil
}

// fetchVerifiedResult gets GET /result and verifies its JWS with the
// server's /.well-known/jwks.json, as a tenant does.
func fetchVerifiedResult(ctx context.Context, c *apiClient, id string) (json.RawMessage, error) {
	if c.token == "" || time.Now().After(c.expires) {
		if err := c.fetchToken(ctx); err != nil {
			return nil, err
		}
	}
	get := func(path, bearer string, limit int64) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
		if err != nil {
			return nil, err
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		hc := c.http
		if hc == nil {
			hc = &http.Client{Timeout: 60 * time.Second}
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		if int64(len(b)) > limit {
			return nil, fmt.Errorf("GET %s: answer over %d bytes", path, limit)
		}
		return b, nil
	}
	jws, err := get("/v1/ekyc/sessions/"+id+"/result", c.token, ekyc.MaxResultJWS)
	if err != nil {
		return nil, err
	}
	jwks, err := get("/.well-known/jwks.json", "", 64<<10)
	if err != nil {
		return nil, err
	}
	payload, err := ekyc.VerifyResult(string(bytes.TrimSpace(jws)), jwks)
	if err != nil {
		return nil, fmt.Errorf("the result's signature: %w", err)
	}
	if !json.Valid(payload) {
		return nil, errors.New("the result's payload is not JSON")
	}
	return payload, nil
}
