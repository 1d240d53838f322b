package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/txauth"
	"github.com/madoguchi/madoguchi/web"
)

// TestBrowserTxAuthFace: face re-authentication on the confirmation page in
// headless Chromium with the fake camera, as the capture tests do, against
// a real server with the real face engine. The customer's template comes
// from live selfies captured through eKYC's capture API (a real portrait);
// the fake camera plays the same portrait as a still video, which the
// active challenge must refuse: the page shows the refusal and the reasons
// are liveness ones, from frames in which the engine found the face.
func TestBrowserTxAuthFace(t *testing.T) {
	requireBrowser(t)
	modelDir := e2eModels(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	srv := startServer(t, dir, "--models", modelDir)
	a := testApp(t, dir)
	c := newTenantClient(t, a, srv.url(), "Face Bank", web.ScopeEKYCSessions, web.ScopeTxAuthConfirm, web.ScopeTxAuthCards, web.ScopeTxAuthAdmin)
	es, err := a.newEKYC(srv.url())
	if err != nil {
		t.Fatal(err)
	}
	pol := ekyc.ExamplePolicy(0.5)
	pol.Methods = []string{"he"}
	if _, err := es.SetPolicy(ctx, ekyc.System, c.tenantID, pol); err != nil {
		t.Fatal(err)
	}
	// Live selfies through the capture API, then the session approved (the
	// chip and decision are TestBrowserCaptureHe's subject).
	cu := struct{ ID string }{approvedCustomer(t, ctx, a, c, "C-FACE")}
	// Enrol the template (the models may still be loading: 503 until then).
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		err := c.call(ctx, "POST", "/v1/txauth/faces", map[string]string{"customer": cu.ID}, nil)
		var ae *apiError
		if err == nil {
			break
		}
		if !errors.As(err, &ae) || ae.Status != 503 || time.Now().After(deadline) {
			t.Fatalf("POST faces: %v", err)
		}
	}
	p := txauth.ExamplePolicy()
	p.Require, p.UnusualHours = []txauth.Factor{txauth.FactorFace}, [2]int{0, 0}
	if err := c.call(ctx, "PUT", "/v1/txauth/policy", p, nil); err != nil {
		t.Fatal(err)
	}
	var cr struct {
		ID         string `json:"id"`
		ConfirmURL string `json:"confirm_url"`
	}
	if err := c.call(ctx, "POST", "/v1/txauth/confirmations", map[string]any{"customer": cu.ID, "transaction": sampleTransaction()}, &cr); err != nil {
		t.Fatal(err)
	}
	video := filepath.Join(t.TempDir(), "face.y4m")
	writeY4M(t, video, readImage(t, e2eFaceImage), videoFrames)
	shots := os.Getenv("MADOGUCHI_E2E_SHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	d := startConfirmDriver(t, map[string]any{"faceUrl": cr.ConfirmURL, "video": video, "shots": shots})
	ev := d.next(t)
	d.wait(t)
	t.Logf("face re-authentication: state=%q reasons=%q", ev.State, ev.Reasons)
	if ev.Event != "face" || ev.State == "confirmed" {
		t.Fatalf("event = %+v, want a refusal: a still photograph cannot pass the active challenge", ev)
	}
	if !strings.Contains(ev.Reasons, ekyc.ReasonStaticFrames) && !strings.Contains(ev.Reasons, ekyc.ReasonChallengeFailed) {
		t.Errorf("reasons = %q, want %s or %s", ev.Reasons, ekyc.ReasonStaticFrames, ekyc.ReasonChallengeFailed)
	}
	for _, bad := range []string{ekyc.ReasonNoFaceSelfie, ekyc.ReasonTooFewSelfies, ekyc.ReasonFaceMismatch} {
		if strings.Contains(ev.Reasons, bad) {
			t.Errorf("reasons = %q include %s: the frames show the enrolled face", ev.Reasons, bad)
		}
	}
	var got struct {
		State     string          `json:"state"`
		Satisfied []txauth.Factor `json:"satisfied"`
	}
	if err := c.call(ctx, "GET", "/v1/txauth/confirmations/"+cr.ID, nil, &got); err != nil || got.State != "pending" || len(got.Satisfied) != 0 {
		t.Errorf("confirmation = %+v, %v; want pending, nothing satisfied", got, err)
	}
}
