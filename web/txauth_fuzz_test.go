package web

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/txauth"
)

// txFuzzService is transaction authentication as the body decoders of the
// page and device routes reach it: it records what it was handed and
// refuses (the service's own checks are txauth's tests); any other method
// is not reached by these routes.
type txFuzzService struct {
	TxAuthService
	calls int
}

func (f *txFuzzService) Answer(_ context.Context, _, _ string, _ [2]string) (*txauth.PageView, error) {
	f.calls++
	return nil, txauth.ErrNotFound
}

func (f *txFuzzService) FaceFrame(_ context.Context, _, _ string, img []byte) (string, error) {
	f.calls++
	return "", txauth.ErrInvalidInput
}

func (f *txFuzzService) JPKIChallenge(_ context.Context, _, _ string) (*txauth.JPKIChallengeView, error) {
	f.calls++
	return nil, txauth.ErrFactor
}

func (f *txFuzzService) JPKISubmit(_ context.Context, _, _ string, _ ekyc.JPKISignature) (*txauth.PageView, error) {
	f.calls++
	return nil, txauth.ErrJPKI
}

func (f *txFuzzService) DeviceDecide(_ context.Context, _, _, _ string, _ []byte) (*txauth.Confirmation, error) {
	f.calls++
	return nil, txauth.ErrDeviceSignature
}

func (f *txFuzzService) DeviceScan(_ context.Context, _, code string) (*txauth.Pending, error) {
	f.calls++
	if _, err := txauth.ParseDeviceQR(code); err != nil {
		return nil, err
	}
	return nil, txauth.ErrNotFound
}

func (f *txFuzzService) PasskeyFinish(_ context.Context, _ string, _ []byte) (*txauth.PageView, error) {
	f.calls++
	return nil, txauth.ErrPasskey
}

// FuzzTxAuthBodies sends arbitrary bodies to every txauth route that
// decodes one from the customer's page or device: a problem (4xx,
// problem+json) or the service's refusal, never a 5xx or a panic, and
// nothing beyond the route's size limit reaches the service.
func FuzzTxAuthBodies(f *testing.F) {
	routes := []struct{ path, auth string }{
		{"/v1/txauth/page/answer", "Confirm "},
		{"/v1/txauth/page/face/frames", "Confirm "},
		{"/v1/txauth/page/jpki/challenge", "Confirm "},
		{"/v1/txauth/page/jpki/signature", "Confirm "},
		{"/v1/txauth/page/passkey/finish", "Confirm "},
		{"/v1/txauth/device/confirmations/cf_1", "Device "},
		{"/v1/txauth/device/scan", "Device "},
	}
	for i := range routes {
		f.Add(uint8(i), []byte(`{"challenge":"ch_1","picks":["AAAAAAAAAAAAAAAAAAAAAA","AAAAAAAAAAAAAAAAAAAAAA"]}`))
		f.Add(uint8(i), []byte(`{"decision":"approve","signature":"MEUCIQ"}`))
		f.Add(uint8(i), []byte(`{"code":"MDGTX1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`))
		f.Add(uint8(i), []byte(`{"nonce":"x","image":"iVBORw0KGgo"}`))
		f.Add(uint8(i), []byte(`{"usage":"sign"}`))
		f.Add(uint8(i), []byte(`{"picks":[1,2,3],"extra":true}`))
	}
	svc := &txFuzzService{}
	h := New(Config{TxAuth: &TxAuthConfig{Service: svc}})
	tok := strings.Repeat("A", 43)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := routes[int(route)%len(routes)]
		r := httptest.NewRequest("POST", rt.path, bytes.NewReader(body))
		r.Header.Set("Authorization", rt.auth+tok)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		before := svc.calls
		h.ServeHTTP(w, r)
		if w.Code >= 500 || w.Code < 400 {
			t.Fatalf("POST %s %q = %d, want a 4xx refusal", rt.path, body, w.Code)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("POST %s = %d with %s, want problem+json", rt.path, w.Code, ct)
		}
		if svc.calls > before && len(body) > DefaultMaxBody && rt.path != "/v1/txauth/page/face/frames" && rt.path != "/v1/txauth/page/jpki/signature" {
			t.Fatalf("POST %s: a %d-byte body reached the service", rt.path, len(body))
		}
	})
}
