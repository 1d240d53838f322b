package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	qr "github.com/piglig/go-qr"
)

// TestCaptureStateAndHandoff: a ワ session's page gets the hand-off link
// (the capture page with a one-time token in the fragment, never the
// capture key) and its QR code from the server; the "app" redeems the
// token for a key of its own and signs, and the page sees the outcome the
// server recorded; a replayed, superseded or late token is refused with
// problem+json; the generic submit never decides a ワ session; a ヘ session
// has no hand-off.
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
		// handoffState checks the state's "handoff" field: absent (want
		// nil), or {"redeemed":false}, or {"redeemed":true,"redeemed_at"}
		// with the time stored for the session's redeemed token.
		handoffState := func(step, key string, want *bool) {
			t.Helper()
			code, st := call("GET", "/v1/ekyc/capture/state", keyHdr(key), nil)
			got, present := st["handoff"]
			switch {
			case code != 200:
				t.Errorf("%s: state = %d %v", step, code, st)
			case want == nil:
				if present {
					t.Errorf("%s: state handoff = %v, want no such field", step, got)
				}
			case !*want:
				if m, _ := got.(map[string]any); len(m) != 1 || m["redeemed"] != false {
					t.Errorf("%s: state handoff = %v, want {redeemed:false}", step, got)
				}
			default:
				var stored int64
				if err := db.QueryRow(t.Context(), `SELECT redeemed_at FROM ekyc_handoffs WHERE session_id = ? AND state = 'redeemed'`, st["session_id"]).Scan(&stored); err != nil {
					t.Fatalf("%s: stored redemption: %v", step, err)
				}
				m, _ := got.(map[string]any)
				at, _ := m["redeemed_at"].(string)
				when, err := time.Parse(time.RFC3339Nano, at)
				if len(m) != 2 || m["redeemed"] != true || err != nil || !when.Equal(store.FromMicros(stored)) {
					t.Errorf("%s: state handoff = %v, want {redeemed:true, redeemed_at:%v} (the stored time)", step, got, store.FromMicros(stored))
				}
			}
		}
		no, yes := false, true

		id, key := start("wa")
		code, st := call("GET", "/v1/ekyc/capture/state", keyHdr(key), nil)
		if code != 200 || st["state"] != "capturing" || st["method"] != "wa" || st["outcome"] != nil {
			t.Fatalf("state = %d %v, want capturing wa without an outcome", code, st)
		}
		handoff := func(key string) string {
			t.Helper()
			code, ho := call("POST", "/v1/ekyc/capture/handoff", keyHdr(key), nil)
			link, _ := ho["link"].(string)
			base, tok, _ := strings.Cut(link, "#h=")
			if code != 200 || base != "https://madoguchi.test/ekyc/capture" || tok == "" || ho["session_id"] != id || ho["expires_at"] == nil {
				t.Fatalf("handoff = %d %v, want a #h= link for %s", code, ho, id)
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
			got, err := qr.Decode(img)
			if err != nil || got != link {
				t.Errorf("the QR code decodes to %q, %v; want the link", got, err)
			}
			// Neither the link nor its QR code carries the capture key.
			if strings.Contains(got, key) || strings.Contains(link, key) || strings.Contains(svg, key) || tok == key {
				t.Fatalf("the hand-off link or QR code carries the capture key")
			}
			return tok
		}
		redeem := func(tok string) *httptest.ResponseRecorder {
			t.Helper()
			return do(t, h, "POST", "/v1/ekyc/capture/handoff/redeem", jsonBody(map[string]string{"token": tok}),
				map[string]string{"Content-Type": "application/json"})
		}
		refused := func(name string, w *httptest.ResponseRecorder, status int, typ string) {
			t.Helper()
			if w.Code != status {
				t.Errorf("%s: redeem = %d %s, want %d", name, w.Code, w.Body, status)
				return
			}
			if p := decodeProblem(t, w); !strings.HasSuffix(p.Type, typ) || strings.Contains(w.Body.String(), "capture_key") {
				t.Errorf("%s: problem %+v, want type %s", name, p, typ)
			}
		}
		if code, _ := call("GET", "/v1/ekyc/capture/handoff", keyHdr(key), nil); code != http.StatusMethodNotAllowed {
			t.Errorf("GET handoff = %d, want 405 (issuing a token is a POST)", code)
		}
		handoffState("no link yet", key, &no)
		superseded := handoff(key)
		tok := handoff(key)
		refused("superseded", redeem(superseded), http.StatusUnauthorized, "unauthorized")
		handoffState("a superseded link, never redeemed", key, &no)

		w := redeem(tok)
		var dev struct {
			SessionID string `json:"session_id"`
			Method    string `json:"method"`
			Key       string `json:"capture_key"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &dev); w.Code != 200 || err != nil || dev.SessionID != id || dev.Method != "wa" || dev.Key == "" || dev.Key == key {
			t.Fatalf("redeem = %d %s, want a fresh capture key for %s", w.Code, w.Body, id)
		}
		handoffState("the current link redeemed", key, &yes)
		handoffState("the device's own key", dev.Key, nil)
		refused("replayed", redeem(tok), http.StatusUnauthorized, "unauthorized")
		handoffState("after a refused replay", key, &yes)
		refused("unknown", redeem(strings.Repeat("A", 43)), http.StatusUnauthorized, "unauthorized")
		refused("the capture key as a token", redeem(key), http.StatusUnauthorized, "unauthorized")
		refused("no token", redeem(""), http.StatusBadRequest, "bad-request")
		refused("long token", redeem(strings.Repeat("A", 129)), http.StatusBadRequest, "bad-request")
		refused("big body", do(t, h, "POST", "/v1/ekyc/capture/handoff/redeem", strings.NewReader(`{"token":"`+strings.Repeat("A", 2000)+`"}`),
			map[string]string{"Content-Type": "application/json"}), http.StatusRequestEntityTooLarge, "too-large")
		refused("form body", do(t, h, "POST", "/v1/ekyc/capture/handoff/redeem", strings.NewReader("token="+tok),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}), http.StatusUnsupportedMediaType, "unsupported-media-type")
		if code, m := call("POST", "/v1/ekyc/capture/handoff", keyHdr(dev.Key), nil); code != http.StatusConflict {
			t.Errorf("handoff with the device's key = %d %v, want 409", code, m)
		}
		late := handoff(key)
		handoffState("a fresh link", key, &no)

		// The generic submit does not decide a ワ session.
		if code, m := call("POST", "/v1/ekyc/capture/submit", keyHdr(key), nil); code != http.StatusConflict {
			t.Errorf("submit wa without a signature = %d %v, want 409", code, m)
		}
		if _, st := call("GET", "/v1/ekyc/capture/state", keyHdr(key), nil); st["state"] != "capturing" {
			t.Errorf("state after the refused submit = %v, want capturing", st)
		}

		// The app signs with its own key: the page then sees approved.
		_, chs := call("POST", "/v1/ekyc/capture/jpki/challenges", keyHdr(dev.Key), nil)
		first := chs["challenges"].([]any)[0].(map[string]any)
		if code, m := call("POST", "/v1/ekyc/capture/jpki/signature", keyHdr(dev.Key), map[string]any{"sign": sigJSON(t, signCard, first["challenge"].(string))}); code != 200 {
			t.Fatalf("signature = %d %v", code, m)
		}
		if code, st := call("GET", "/v1/ekyc/capture/state", keyHdr(key), nil); code != 200 || st["state"] != "decided" || st["outcome"] != "approved" {
			t.Errorf("state after signing = %d %v, want decided approved", code, st)
		}
		if code, _ := call("POST", "/v1/ekyc/capture/handoff", keyHdr(key), nil); code != http.StatusConflict {
			t.Errorf("handoff after the decision = %d, want 409", code)
		}
		refused("after the decision", redeem(late), http.StatusConflict, "ekyc-state")

		// A rejected ワ session: signed over the wrong challenge.
		_, key2 := start("wa")
		_, chs = call("POST", "/v1/ekyc/capture/jpki/challenges", keyHdr(key2), nil)
		other := chs["challenges"].([]any)[1].(map[string]any)
		call("POST", "/v1/ekyc/capture/jpki/signature", keyHdr(key2), map[string]any{"sign": sigJSON(t, signCard, other["challenge"].(string))})
		if _, st := call("GET", "/v1/ekyc/capture/state", keyHdr(key2), nil); st["state"] != "decided" || st["outcome"] != "rejected" {
			t.Errorf("state after a wrong signature = %v, want decided rejected", st)
		}

		_, heKey := start("he")
		handoffState("a he session", heKey, nil)
		if code, _ := call("POST", "/v1/ekyc/capture/handoff", keyHdr(heKey), nil); code != http.StatusConflict {
			t.Errorf("handoff of a he session = %d, want 409", code)
		}
		if code, _ := call("GET", "/v1/ekyc/capture/state", keyHdr("AAAA"), nil); code != http.StatusUnauthorized {
			t.Errorf("state with a bad key = %d, want 401", code)
		}

		// The customer cancels from the page; the device that redeemed the
		// page's link (perhaps a photograph of it) cannot.
		id3, key3 := start("wa")
		var dev3 struct {
			Key string `json:"capture_key"`
		}
		_, ho3 := call("POST", "/v1/ekyc/capture/handoff", keyHdr(key3), nil)
		link3, _ := ho3["link"].(string)
		_, tok3, _ := strings.Cut(link3, "#h=")
		if w := redeem(tok3); w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &dev3) != nil || dev3.Key == "" {
			t.Fatalf("redeem = %d %s", w.Code, w.Body)
		}
		if code, _ := call("GET", "/v1/ekyc/capture/cancel", keyHdr(key3), nil); code != http.StatusMethodNotAllowed {
			t.Errorf("GET cancel = %d, want 405", code)
		}
		if code, m := call("POST", "/v1/ekyc/capture/cancel", keyHdr(dev3.Key), nil); code != http.StatusUnauthorized || m["type"] == nil {
			t.Errorf("cancel with the hand-off device's key = %d %v, want 401 problem", code, m)
		}
		if code, m := call("POST", "/v1/ekyc/capture/cancel", keyHdr(key3), nil); code != 200 || m["state"] != "cancelled" || m["session_id"] != id3 {
			t.Errorf("cancel with the page's key = %d %v, want 200 cancelled", code, m)
		}
		if code, m := call("GET", "/v1/ekyc/sessions/"+id3, bearerHdr("tok-a"), nil); code != 200 || m["state"] != "cancelled" {
			t.Errorf("the tenant's view after the customer's cancel = %d %v, want cancelled", code, m)
		}
		for name, k := range map[string]string{"page": key3, "device": dev3.Key} {
			if code, _ := call("POST", "/v1/ekyc/capture/cancel", keyHdr(k), nil); code != http.StatusUnauthorized {
				t.Errorf("cancel again with the %s key = %d, want 401", name, code)
			}
		}
		if code, _ := call("POST", "/v1/ekyc/capture/cancel", keyHdr(key), nil); code != http.StatusUnauthorized && code != http.StatusConflict {
			t.Errorf("cancel of a decided session = %d, want 401 or 409", code)
		}
	})
}
