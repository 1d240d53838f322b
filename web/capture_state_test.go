package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	qr "github.com/piglig/go-qr"
)

// TestCaptureStateAndHandoff: a ワ session's page gets the hand-off link
// (the capture page with the capture key in the fragment) and its QR code
// from the server, follows the state while the "app" signs, and sees the
// outcome the server recorded; the generic submit never decides a ワ
// session; a ヘ session has no hand-off.
func TestCaptureStateAndHandoff(t *testing.T) {
	p, err := jpkitest.New(jpkitest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	signCard, err := p.Issue(jpkitest.CardOptions{Usage: jpki.UsageSign})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h := newJPKIServer(t, db, p)
		call := func(method, path string, hdr map[string]string, body any) (int, map[string]any) {
			t.Helper()
			w := do(t, h, method, path, jsonBody(body), hdr)
			var m map[string]any
			_ = json.Unmarshal(w.Body.Bytes(), &m)
			return w.Code, m
		}
		start := func(method string) (id, key string) {
			code, sess := call("POST", "/v1/ekyc/sessions", bearerHdr("tok-a"), map[string]string{"method": method, "reference": "r"})
			if code != http.StatusCreated {
				t.Fatalf("create %s = %d %v", method, code, sess)
			}
			tok := strings.SplitN(sess["capture_url"].(string), "#t=", 2)[1]
			code, st := call("POST", "/v1/ekyc/capture/start", map[string]string{"Authorization": "Capture " + tok}, nil)
			if code != 200 {
				t.Fatalf("start = %d %v", code, st)
			}
			return sess["id"].(string), st["capture_key"].(string)
		}
		keyHdr := func(k string) map[string]string {
			return map[string]string{"Authorization": "Capture-Key " + k, "Content-Type": "application/json"}
		}

		id, key := start("wa")
		code, st := call("GET", "/v1/ekyc/capture/state", keyHdr(key), nil)
		if code != 200 || st["state"] != "capturing" || st["method"] != "wa" || st["outcome"] != nil {
			t.Fatalf("state = %d %v, want capturing wa without an outcome", code, st)
		}
		code, ho := call("GET", "/v1/ekyc/capture/handoff", keyHdr(key), nil)
		link, _ := ho["link"].(string)
		if code != 200 || link != "https://madoguchi.test/ekyc/capture#k="+key || ho["session_id"] != id {
			t.Fatalf("handoff = %d %v", code, ho)
		}
		svg, _ := ho["qr_svg"].(string)
		want, err := qrSVG(link)
		if err != nil || svg != want || !strings.HasPrefix(strings.TrimSpace(svg), "<svg") || strings.Contains(svg, "<script") {
			t.Errorf("qr_svg = %.80q…, want the SVG QR code of the link", svg)
		}
		code2, err := qr.EncodeText(link, qr.Medium)
		if err != nil {
			t.Fatal(err)
		}
		img, err := code2.ToImage(qr.NewQrCodeImgConfig(8, 4))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := qr.Decode(img); err != nil || got != link {
			t.Errorf("the QR code decodes to %q, %v; want the link", got, err)
		}

		// The generic submit does not decide a ワ session.
		if code, m := call("POST", "/v1/ekyc/capture/submit", keyHdr(key), nil); code != http.StatusConflict {
			t.Errorf("submit wa without a signature = %d %v, want 409", code, m)
		}
		if _, st := call("GET", "/v1/ekyc/capture/state", keyHdr(key), nil); st["state"] != "capturing" {
			t.Errorf("state after the refused submit = %v, want capturing", st)
		}

		// The app signs with the hand-off key: the page then sees approved.
		_, chs := call("POST", "/v1/ekyc/capture/jpki/challenges", keyHdr(key), nil)
		first := chs["challenges"].([]any)[0].(map[string]any)
		if code, m := call("POST", "/v1/ekyc/capture/jpki/signature", keyHdr(key), map[string]any{"sign": sigJSON(t, signCard, first["challenge"].(string))}); code != 200 {
			t.Fatalf("signature = %d %v", code, m)
		}
		if code, st := call("GET", "/v1/ekyc/capture/state", keyHdr(key), nil); code != 200 || st["state"] != "decided" || st["outcome"] != "approved" {
			t.Errorf("state after signing = %d %v, want decided approved", code, st)
		}
		if code, _ := call("GET", "/v1/ekyc/capture/handoff", keyHdr(key), nil); code != http.StatusConflict {
			t.Errorf("handoff after the decision = %d, want 409", code)
		}

		// A rejected ワ session: signed over the wrong challenge.
		_, key2 := start("wa")
		_, chs = call("POST", "/v1/ekyc/capture/jpki/challenges", keyHdr(key2), nil)
		other := chs["challenges"].([]any)[1].(map[string]any)
		call("POST", "/v1/ekyc/capture/jpki/signature", keyHdr(key2), map[string]any{"sign": sigJSON(t, signCard, other["challenge"].(string))})
		if _, st := call("GET", "/v1/ekyc/capture/state", keyHdr(key2), nil); st["state"] != "decided" || st["outcome"] != "rejected" {
			t.Errorf("state after a wrong signature = %v, want decided rejected", st)
		}

		_, heKey := start("he")
		if code, _ := call("GET", "/v1/ekyc/capture/handoff", keyHdr(heKey), nil); code != http.StatusConflict {
			t.Errorf("handoff of a he session = %d, want 409", code)
		}
		if code, _ := call("GET", "/v1/ekyc/capture/state", keyHdr("AAAA"), nil); code != http.StatusUnauthorized {
			t.Errorf("state with a bad key = %d, want 401", code)
		}
	})
}
