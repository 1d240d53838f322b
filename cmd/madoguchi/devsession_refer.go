package main

// `madoguchi dev session --refer`: the session goes to a person instead of
// being rejected. A test kiosk is registered (once) in the tenant of 'dev
// portal' ("Development Bank" unless --tenant says otherwise) with a
// policy that refers every failed check to a reviewer
// (ekyc.ExampleReferPolicy), so the session appears in that tenant's
// review queue in the portal, where dev-reviewer decides it. Without
// --chip and --selfie it mints a TEST licence itself (the development
// issuers of --data) with the source tree's public-domain test portrait,
// and sends the tree's test selfies: run it from the repository's root.

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
	"github.com/madoguchi/madoguchi/document/chip/devissuer"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/tenant"
)

// The source tree's test images (public domain, face/testdata) that
// --refer uses when no --chip or --selfie is given.
var (
	referPhoto   = filepath.Join("face", "testdata", "golden", "images", "astronaut_face_250.png")
	referSelfies = []string{
		filepath.Join("face", "testdata", "golden", "images", "astronaut_512.png"),
		filepath.Join("face", "testdata", "golden", "images", "astronaut_face_250.png"),
		filepath.Join("face", "testdata", "golden", "images", "astronaut_wide_256x170.png"),
		filepath.Join("face", "testdata", "golden", "images", "astronaut_gray_250.png"),
	}
)

// referInputs mints the TEST licence and reads the default selfies.
func referInputs(d dataFlags, selfies []string) (map[string][]byte, [][]byte, error) {
	photo, err := readLimited(referPhoto, devissuer.MaxPhoto)
	if err != nil {
		return nil, nil, usageError{fmt.Sprintf("--refer without --chip mints a test licence with %s: run from the repository's root, or give --chip DIR and --selfie FILE (%v)", referPhoto, err)}
	}
	is, _, err := ensureDevIssuers(d)
	if err != nil {
		return nil, nil, err
	}
	minted, err := is.Mint(document.KindJPDL, devissuer.Holder{Name: "見本　花子", Birth: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC),
		Sex: "female", Photo: photo}, time.Now())
	if err != nil {
		return nil, nil, err
	}
	files := map[string][]byte{}
	for n, b := range minted {
		canon, ok := chip.FileName(document.KindJPDL, n)
		if !ok {
			canon = n
		}
		files[canon] = b
	}
	if len(selfies) == 0 {
		selfies = referSelfies
	}
	imgs := make([][]byte, len(selfies))
	for i, p := range selfies {
		if imgs[i], err = readLimited(p, ekyc.MaxImageBytes); err != nil {
			return nil, nil, err
		}
	}
	return files, imgs, nil
}

// devReferKiosk returns the refer kiosk of the development data directory
// (client id and key file), registering it on first use in tenant (found
// by name, created if missing: the tenant of 'dev portal'), whose policy
// it sets to refer every failed check (methods he and ho).
func devReferKiosk(ctx context.Context, d dataFlags, tenantName string) (id, keyFile, note string, err error) {
	if !isDevelopment(d.data) {
		return "", "", "", fmt.Errorf("%s is not a development data directory (no %s marker): --refer registers a test kiosk there", d.data, devMarker)
	}
	dir := filepath.Join(d.data, "dev-kiosk-refer")
	if id, keyFile, ok := savedDevKiosk(dir, tenantName); ok {
		return id, keyFile, "", nil
	}
	a, err := openApp(ctx, modeDevelopment, d, slog.New(slog.DiscardHandler), true)
	if err != nil {
		return "", "", "", err
	}
	defer a.Close()
	ten, err := devTenant(ctx, a, tenantName)
	if err != nil {
		return "", "", "", err
	}
	p := ekyc.ExampleReferPolicy(0.5)
	p.Methods = []string{"he", "ho"}
	if _, err := applyDevCalibration(d, &p); err != nil {
		return "", "", "", err
	}
	if _, err := ekyc.StorePolicy(ctx, a.db, a.audit, ekyc.Actor{Kind: "system", ID: "dev-session"}, ten.ID, p, time.Now()); err != nil {
		return "", "", "", err
	}
	op := tenant.Actor{Kind: "system", ID: "dev-session", OSUser: osUser()}
	id, keyFile, err = registerDevKiosk(ctx, a, op, ten, "Development kiosk, refers to review (dev)", dir)
	if err != nil {
		return "", "", "", err
	}
	return id, keyFile, fmt.Sprintf("registered a test kiosk in %s for tenant %q, whose policy now refers every failed check to a reviewer", dir, ten.Name), nil
}

// portalReviewURL is where the session is reviewed in the portal (a
// loopback address as localhost: passkeys need a host name).
func portalReviewURL(server, id string) string {
	u := strings.TrimRight(server, "/")
	u = strings.Replace(u, "://127.0.0.1", "://localhost", 1)
	return u + "/portal/review/" + id
}

// devReferSession runs a --refer session with minted chip files.
func devReferSession(ctx context.Context, e *env, d dataFlags, server, aud, tenantName, locale string, wait time.Duration,
	files map[string][]byte, selfies [][]byte) error {
	id, key, note, err := devReferKiosk(ctx, d, tenantName)
	if err != nil {
		return err
	}
	c, err := loadAPIClient(server, aud, id, key)
	if err != nil {
		return err
	}
	notes := []string{"minted a TEST driver's licence for 見本　花子 with the development issuers of " + d.data}
	if note != "" {
		notes = append(notes, note)
	}
	res, err := runDevSession(ctx, c, sessionPlan{method: "he", kind: document.KindJPDL, chip: files, selfies: selfies,
		locale: locale, wait: wait, poll: time.Second})
	return reportDevSession(e, res, err, notes, server)
}
