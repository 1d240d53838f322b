package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestEKYCDeviceKeysAPI: a tenant administration client registers its
// kiosk's key; the kiosk fetches the session nonce, signs its read and
// posts it; forged, foreign and replayed signatures are 422
// ekyc-device-signature; keys are confined to their tenant.
func TestEKYCDeviceKeysAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h, _ := newEKYCServer(t, db)
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))

		reg := func(tok string, body any) (int, map[string]any) {
			w := do(t, h, "POST", "/v1/ekyc/device-keys", jsonBody(body), bearerHdr(tok))
			var m map[string]any
			_ = json.Unmarshal(w.Body.Bytes(), &m)
			return w.Code, m
		}
		if code, _ := reg("dev-a", map[string]string{"client_id": "kiosk-a", "public_key": pemKey}); code != http.StatusForbidden {
			t.Errorf("a kiosk registers a key = %d, want 403 (scope ekyc:devices)", code)
		}
		if code, m := reg("adm-a", map[string]string{"client_id": "kiosk-a", "public_key": "%%%"}); code != http.StatusBadRequest {
			t.Errorf("register garbage = %d %v, want 400", code, m)
		}
		code, key := reg("adm-a", map[string]string{"client_id": "kiosk-a", "public_key": pemKey})
		if code != http.StatusCreated || key["alg"] != "ES256" {
			t.Fatalf("register = %d %v, want 201 ES256", code, key)
		}
		kid := key["key_id"].(string)
		if code, _ := reg("adm-a", map[string]string{"client_id": "kiosk-a", "public_key": base64.StdEncoding.EncodeToString(der)}); code != http.StatusConflict {
			t.Errorf("register the same key twice = %d, want 409", code)
		}
		if w := do(t, h, "GET", "/v1/ekyc/device-keys", nil, bearerHdr("adm-b")); w.Code != 200 || strings.Contains(w.Body.String(), kid) {
			t.Errorf("another tenant's list = %d %s, want 200 without %s", w.Code, w.Body, kid)
		}
		if w := do(t, h, "DELETE", "/v1/ekyc/device-keys/"+kid, nil, bearerHdr("adm-b")); w.Code != http.StatusNotFound {
			t.Errorf("another tenant revokes = %d, want 404", w.Code)
		}

		newSession := func() string {
			w := do(t, h, "POST", "/v1/ekyc/sessions", jsonBody(map[string]string{"method": "he", "reference": "r"}), bearerHdr("tok-a"))
			var s struct{ ID string }
			if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil || w.Code != 201 {
				t.Fatalf("create = %d %s", w.Code, w.Body)
			}
			return s.ID
		}
		files := map[string][]byte{"df1_ef01": {1, 2, 3}, "mf_ef01": {4, 5}}
		sign := func(id string) string {
			w := do(t, h, "GET", "/v1/ekyc/sessions/"+id+"/chip/challenge", nil, bearerHdr("dev-a"))
			var c struct{ Nonce string }
			if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil || w.Code != 200 {
				t.Fatalf("challenge = %d %s", w.Code, w.Body)
			}
			nonce, _ := base64.RawURLEncoding.DecodeString(c.Nonce)
			named, _ := chip.Normalize(document.KindJPDL, files)
			sum := sha256.Sum256(ekyc.DeviceSigningInput(id, nonce, chip.BundleDigest(named)))
			r, s, _ := ecdsa.Sign(rand.Reader, k, sum[:])
			out := make([]byte, 64)
			r.FillBytes(out[:32])
			s.FillBytes(out[32:])
			return base64.RawURLEncoding.EncodeToString(out)
		}
		b64files := map[string]string{}
		for n, b := range files {
			b64files[n] = base64.StdEncoding.EncodeToString(b)
		}
		post := func(tok, id, keyID, sig string) *Problem {
			w := do(t, h, "POST", "/v1/ekyc/sessions/"+id+"/chip", jsonBody(map[string]any{"kind": "jpdl", "files": b64files,
				"device_signature": map[string]string{"key_id": keyID, "signature": sig}}), bearerHdr(tok))
			if w.Code == http.StatusCreated {
				return nil
			}
			p := decodeProblem(t, w)
			return &p
		}
		s1, s2 := newSession(), newSession()
		good := sign(s1)
		fb, _ := base64.RawURLEncoding.DecodeString(good)
		fb[5] ^= 1
		forged := base64.RawURLEncoding.EncodeToString(fb)
		for _, tc := range []struct {
			name, tok, id, kid, sig string
		}{
			{"forged", "dev-a", s1, kid, forged},
			{"another session's nonce", "dev-a", s2, kid, good},
			{"another device posts with this key", "dev-a2", s1, kid, good},
			{"unknown key", "dev-a", s1, "dk_nope", good},
		} {
			if p := post(tc.tok, tc.id, tc.kid, tc.sig); p == nil || p.Status != 422 || p.Type != problemTypeBase+"ekyc-device-signature" {
				t.Errorf("%s: problem %+v, want 422 ekyc-device-signature", tc.name, p)
			}
		}
		if p := post("dev-a", s1, kid, good); p != nil {
			t.Fatalf("signed read = %+v, want 201", p)
		}
		if p := post("dev-a", s1, kid, good); p == nil || p.Type != problemTypeBase+"ekyc-already-received" {
			t.Errorf("replayed signed read = %+v, want ekyc-already-received", p)
		}
		if w := do(t, h, "DELETE", "/v1/ekyc/device-keys/"+kid, nil, bearerHdr("adm-a")); w.Code != http.StatusNoContent {
			t.Errorf("revoke = %d %s, want 204", w.Code, w.Body)
		}
		if p := post("dev-a", s2, kid, sign(s2)); p == nil || p.Type != problemTypeBase+"ekyc-device-signature" {
			t.Errorf("read signed with a revoked key = %+v, want ekyc-device-signature", p)
		}
	})
}
