package web

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/vault/vaulttest"
)

// newJPKIServer is an eKYC server whose tenants a and b offer wa, with a
// JPKI verifier over p's roots and current CRLs (nil p: no verifier).
func newJPKIServer(t *testing.T, db *store.DB, p *jpkitest.PKI) http.Handler {
	t.Helper()
	ctx := context.Background()
	stack := vaulttest.New(t, db)
	alog, bs, v := stack.Audit, stack.Blobs, stack.Vault
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, err := ekyc.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := ekyc.NewReuseKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg := ekyc.Config{DB: db, Audit: alog, Vault: v, Blobs: bs, Face: ekycNoFace{}, Chips: ekycRefuseChips{}, ChipReuseKey: rk,
		Signer: rs, PublicURL: "https://madoguchi.test", Notify: testNotifier(t, db, alog, v)}
	if p != nil {
		jv, _, err := p.Verifier(ekyc.NewJPKINonces(db, nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg.JPKI = jv
	}
	svc, err := ekyc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := tenant.NewRegistry(db, alog)
	ids := map[string]string{}
	for _, name := range []string{"a", "b"} {
		tn, err := reg.CreateTenant(ctx, tenant.Actor{Kind: audit.ActorSystem}, "bank-"+name)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = tn.ID
		pol := ekyc.ExamplePolicy(0.5)
		pol.Methods = []string{"he", "wa"}
		if _, err := svc.SetPolicy(ctx, ekyc.System, tn.ID, pol); err != nil {
			t.Fatal(err)
		}
	}
	all := []string{ScopeEKYCSessions, ScopeEKYCResults}
	auth := &fakeAuth{tokens: map[string]Principal{
		"tok-a": {TenantID: ids["a"], ClientID: "cli-a", Scopes: all},
		"tok-b": {TenantID: ids["b"], ClientID: "cli-b", Scopes: all},
		"dev-a": {TenantID: ids["a"], ClientID: "kiosk-a", Scopes: []string{ScopeEKYCDevice}},
		"dev-b": {TenantID: ids["b"], ClientID: "kiosk-b", Scopes: []string{ScopeEKYCDevice}},
	}}
	s, _ := newTestServer(t, Config{Auth: auth, EKYC: &EKYCConfig{Service: svc}})
	return s
}

func sigJSON(t *testing.T, card *jpkitest.Card, b64 string) map[string]any {
	t.Helper()
	msg, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := card.SignRaw(msg)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"form": "raw", "signature": base64.StdEncoding.EncodeToString(sig),
		"certificate": base64.StdEncoding.EncodeToString(card.DER())}
}

func TestJPKIAPI(t *testing.T) {
	p, err := jpkitest.New(jpkitest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	signCard, err := p.Issue(jpkitest.CardOptions{Usage: jpki.UsageSign})
	if err != nil {
		t.Fatal(err)
	}
	authCard, err := p.Issue(jpkitest.CardOptions{Usage: jpki.UsageAuth})
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
		create := func() (string, string) {
			code, sess := call("POST", "/v1/ekyc/sessions", bearerHdr("tok-a"), map[string]string{"method": "wa", "reference": "cust-9"})
			if code != http.StatusCreated {
				t.Fatalf("create wa = %d %v", code, sess)
			}
			return sess["id"].(string), strings.SplitN(sess["capture_url"].(string), "#t=", 2)[1]
		}

		// Capture page: redeem, get challenges, sign with both keys.
		id, tok := create()
		code, st := call("POST", "/v1/ekyc/capture/start", map[string]string{"Authorization": "Capture " + tok}, nil)
		if code != 200 {
			t.Fatalf("capture start = %d %v", code, st)
		}
		keyHdr := map[string]string{"Authorization": "Capture-Key " + st["capture_key"].(string), "Content-Type": "application/json"}
		code, chs := call("POST", "/v1/ekyc/capture/jpki/challenges", keyHdr, nil)
		list, _ := chs["challenges"].([]any)
		if code != http.StatusCreated || len(list) != 2 {
			t.Fatalf("challenges = %d %v", code, chs)
		}
		signB64 := list[0].(map[string]any)["challenge"].(string)
		linkB64 := list[1].(map[string]any)["challenge"].(string)
		if code, _ := call("POST", "/v1/ekyc/capture/jpki/signature", keyHdr, map[string]any{"sign": map[string]any{"signature": "!!"}}); code != 400 {
			t.Errorf("signature not base64 = %d, want 400", code)
		}
		code, res := call("POST", "/v1/ekyc/capture/jpki/signature", keyHdr, map[string]any{
			"sign": sigJSON(t, signCard, signB64), "auth": sigJSON(t, authCard, linkB64)})
		if code != 200 || res["state"] != "decided" || res["outcome"] != nil {
			t.Fatalf("signature = %d %v, want 200 decided (no outcome for the page)", code, res)
		}
		code, sess := call("GET", "/v1/ekyc/sessions/"+id, bearerHdr("tok-a"), nil)
		if code != 200 || sess["outcome"] != "approved" {
			t.Fatalf("session = %d %v, want approved", code, sess)
		}
		w := do(t, h, "GET", "/v1/ekyc/sessions/"+id+"/result", nil, bearerHdr("tok-a"))
		if w.Code != 200 || strings.Count(w.Body.String(), ".") != 2 {
			t.Errorf("result = %d", w.Code)
		}

		// Kiosk: another tenant's session is not found; its own works.
		id2, _ := create()
		if code, _ := call("POST", "/v1/ekyc/sessions/"+id2+"/jpki/challenges", bearerHdr("dev-b"), nil); code != 404 {
			t.Errorf("other tenant's device challenges = %d, want 404", code)
		}
		if code, _ := call("POST", "/v1/ekyc/sessions/"+id2+"/jpki/challenges", bearerHdr("tok-a"), nil); code != 403 {
			t.Errorf("sessions client asks device challenges = %d, want 403", code)
		}
		code, chs = call("POST", "/v1/ekyc/sessions/"+id2+"/jpki/challenges", bearerHdr("dev-a"), nil)
		if code != http.StatusCreated {
			t.Fatalf("device challenges = %d %v", code, chs)
		}
		list = chs["challenges"].([]any)
		// Signature over the link challenge instead of the sign challenge.
		code, res = call("POST", "/v1/ekyc/sessions/"+id2+"/jpki/signature", bearerHdr("dev-a"),
			map[string]any{"sign": sigJSON(t, signCard, list[1].(map[string]any)["challenge"].(string))})
		if code != 200 || res["outcome"] != "rejected" {
			t.Errorf("device signature over other bytes = %d %v, want rejected", code, res)
		}

		// Re-authentication.
		reauth := func(tok string, card *jpkitest.Card) (int, map[string]any) {
			code, ch := call("POST", "/v1/ekyc/jpki/reauth/challenges", bearerHdr(tok), nil)
			if code != http.StatusCreated {
				t.Fatalf("reauth challenge = %d %v", code, ch)
			}
			return call("POST", "/v1/ekyc/jpki/reauth", bearerHdr(tok), map[string]any{
				"challenge_id": ch["id"], "signature": sigJSON(t, card, ch["challenge"].(string))})
		}
		if code, res := reauth("tok-a", authCard); code != 200 || res["same_person_as"] != id || res["reference"] != "cust-9" {
			t.Errorf("reauth = %d %v, want same person as %s", code, res, id)
		}
		if code, _ := reauth("tok-b", authCard); code != 404 {
			t.Errorf("reauth at another tenant = %d, want 404", code)
		}
		if code, res := reauth("tok-a", signCard); code != 422 || res["type"] == nil {
			t.Errorf("reauth with the signing key = %d %v, want 422", code, res)
		}
		if code, _ := call("POST", "/v1/ekyc/jpki/reauth", bearerHdr("tok-a"), map[string]any{"challenge_id": "jch_nope",
			"signature": sigJSON(t, authCard, base64.StdEncoding.EncodeToString([]byte("x")))}); code != 404 {
			t.Errorf("reauth with an unknown challenge = %d, want 404", code)
		}
	})
}

func TestJPKIAPIDisabled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h := newJPKIServer(t, db, nil)
		w := do(t, h, "POST", "/v1/ekyc/sessions", jsonBody(map[string]string{"method": "wa", "reference": "r"}), bearerHdr("tok-a"))
		p := decodeProblem(t, w)
		if w.Code != 422 || !strings.HasSuffix(p.Type, "ekyc-jpki-disabled") || strings.Contains(p.Detail, "ekyc: ") {
			t.Errorf("create wa without a verifier = %d %+v, want 422 ekyc-jpki-disabled", w.Code, p)
		}
		w = do(t, h, "POST", "/v1/ekyc/jpki/reauth/challenges", nil, bearerHdr("tok-a"))
		if w.Code != 422 {
			t.Errorf("reauth challenge without a verifier = %d, want 422", w.Code)
		}
	})
}

// FuzzJPKISubmission feeds arbitrary bodies to the signature decoder: a
// clear error or a submission within the limits, never a panic.
func FuzzJPKISubmission(f *testing.F) {
	f.Add([]byte(`{"sign":{"form":"raw","signature":"AAEC","certificate":"MAA="}}`))
	f.Add([]byte(`{"sign":{"signature":"AAEC","certificate":"MAA=","intermediates":["MAA=","MAA=","MAA=","MAA="]},"auth":{}}`))
	f.Add([]byte(`{"sign":{"signature":"!!"}}`))
	f.Add([]byte(`{"sign":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/v1/ekyc/capture/jpki/signature", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		sub, err := decodeSubmission(httptest.NewRecorder(), r)
		if err != nil {
			return
		}
		if len(sub.Sign.Intermediates) > ekyc.MaxJPKIIntermediates || len(body) > maxJPKIBody {
			t.Errorf("decodeSubmission accepted %d intermediates from %d bytes", len(sub.Sign.Intermediates), len(body))
		}
	})
}
