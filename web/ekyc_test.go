package web

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/vault"
	"github.com/madoguchi/madoguchi/vault/vaulttest"
)

// ekycNoFace is a face engine that finds no face: the HTTP tests exercise
// the API, not the decision rules (package ekyc tests those).
type ekycNoFace struct{}

func (ekycNoFace) AnalyzeImage(context.Context, []byte) ([]face.Face, error) { return nil, nil }
func (ekycNoFace) Model() string                                             { return "none" }
func (ekycNoFace) Decide(face.Score) (face.Decision, error)                  { return face.Refer, face.ErrUncalibrated }

type ekycRefuseChips struct{}

func (ekycRefuseChips) Verify(context.Context, document.Kind, map[string][]byte, []byte) (*document.Evidence, error) {
	return nil, document.Refuse(document.KindJPDL, "signature", document.ErrTampered, "test verifier refuses")
}

func newEKYCServer(t *testing.T, db *store.DB) (http.Handler, *ekyc.Service) {
	t.Helper()
	ctx := context.Background()
	st := vaulttest.New(t, db)
	alog, bs, v := st.Audit, st.Blobs, st.Vault
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, err := ekyc.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := ekyc.NewReuseKey(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ekyc.New(ekyc.Config{DB: db, Audit: alog, Vault: v, Blobs: bs, Face: ekycNoFace{}, Chips: ekycRefuseChips{},
		Signer: rs, ChipReuseKey: rk, PublicURL: "https://madoguchi.test", Notify: testNotifier(t, db, alog, v)})
	if err != nil {
		t.Fatal(err)
	}
	reg := tenant.NewRegistry(db, alog)
	ids := map[string]string{}
	for _, name := range []string{"a", "b", "nopolicy"} {
		tn, err := reg.CreateTenant(ctx, tenant.Actor{Kind: audit.ActorSystem}, "bank-"+name)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = tn.ID
		if name != "nopolicy" {
			if _, err := svc.SetPolicy(ctx, ekyc.System, tn.ID, ekyc.ExamplePolicy(0.5)); err != nil {
				t.Fatal(err)
			}
		}
	}
	all := []string{ScopeEKYCSessions, ScopeEKYCResults}
	auth := &fakeAuth{tokens: map[string]Principal{
		"tok-a":     {TenantID: ids["a"], ClientID: "cli-a", Scopes: all},
		"tok-b":     {TenantID: ids["b"], ClientID: "cli-b", Scopes: all},
		"tok-noscp": {TenantID: ids["a"], ClientID: "cli-x"},
		"tok-nopol": {TenantID: ids["nopolicy"], ClientID: "cli-n", Scopes: all},
		"dev-a":     {TenantID: ids["a"], ClientID: "kiosk-a", Scopes: []string{ScopeEKYCDevice}},
		"dev-b":     {TenantID: ids["b"], ClientID: "kiosk-b", Scopes: []string{ScopeEKYCDevice}},
		"dev-a2":    {TenantID: ids["a"], ClientID: "kiosk-a2", Scopes: []string{ScopeEKYCDevice}},
		"adm-a":     {TenantID: ids["a"], ClientID: "admin-a", Scopes: []string{ScopeEKYCDevices}},
		"adm-b":     {TenantID: ids["b"], ClientID: "admin-b", Scopes: []string{ScopeEKYCDevices}},
	}}
	staff := func(_ context.Context, tok string) (ekyc.Staff, error) {
		switch tok {
		case "staff-rev":
			return ekyc.Staff{ID: "st_r", Roles: []string{ekyc.RoleReviewer}, TenantID: ids["a"]}, nil
		case "staff-op":
			return ekyc.Staff{ID: "st_o", Roles: []string{ekyc.RoleReviewer}}, nil
		case "staff-aud":
			return ekyc.Staff{ID: "st_a", Roles: []string{"auditor"}}, nil
		}
		return ekyc.Staff{}, ErrInvalidToken
	}
	s, _ := newTestServer(t, Config{Auth: auth, EKYC: &EKYCConfig{Service: svc, Staff: staff}})
	return s, svc
}

func jsonBody(v any) *bytes.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

func bearerHdr(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
}

func tinyPNG(t *testing.T, seed byte) []byte {
	img := image.NewGray(image.Rect(0, 0, 4, 4))
	img.Pix[0] = seed
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestEKYCAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h, _ := newEKYCServer(t, db)
		create := func(tok string, body any) (int, map[string]any) {
			w := do(t, h, "POST", "/v1/ekyc/sessions", jsonBody(body), bearerHdr(tok))
			var m map[string]any
			_ = json.Unmarshal(w.Body.Bytes(), &m)
			return w.Code, m
		}
		code, sess := create("tok-a", map[string]string{"method": "he", "reference": "cust-1", "locale": "en"})
		if code != http.StatusCreated || sess["state"] != "created" || !strings.Contains(sess["capture_url"].(string), "#t=") {
			t.Fatalf("create = %d %v", code, sess)
		}
		id := sess["id"].(string)
		for _, tc := range []struct {
			name, method, path, tok string
			body                    any
			want                    int
		}{
			{"own session", "GET", "/v1/ekyc/sessions/" + id, "tok-a", nil, 200},
			{"another tenant's session", "GET", "/v1/ekyc/sessions/" + id, "tok-b", nil, 404},
			{"another tenant cancels", "POST", "/v1/ekyc/sessions/" + id + "/cancel", "tok-b", nil, 404},
			{"another tenant's result", "GET", "/v1/ekyc/sessions/" + id + "/result", "tok-b", nil, 404},
			{"no scope", "GET", "/v1/ekyc/sessions/" + id, "tok-noscp", nil, 403},
			{"no token", "GET", "/v1/ekyc/sessions/" + id, "", nil, 401},
			{"result before decision", "GET", "/v1/ekyc/sessions/" + id + "/result", "tok-a", nil, 409},
			{"close before decision", "POST", "/v1/ekyc/sessions/" + id + "/close", "tok-a", nil, 409},
			{"transaction before approval", "POST", "/v1/ekyc/sessions/" + id + "/transactions", "tok-a", map[string]any{"date": time.Now(), "kind": "open", "content": map[string]int{"a": 1}}, 409},
			{"transaction for another tenant", "POST", "/v1/ekyc/sessions/" + id + "/transactions", "tok-b", map[string]any{"date": time.Now(), "kind": "open", "content": map[string]int{"a": 1}}, 404},
			{"unknown method", "POST", "/v1/ekyc/sessions", "tok-a", map[string]string{"method": "xx", "reference": "r"}, 400},
			{"jpki not offered here", "POST", "/v1/ekyc/sessions", "tok-a", map[string]string{"method": "wa", "reference": "r"}, 422},
			{"ho not in policy", "POST", "/v1/ekyc/sessions", "tok-a", map[string]string{"method": "ho", "reference": "r"}, 422},
			{"tenant without policy", "POST", "/v1/ekyc/sessions", "tok-nopol", map[string]string{"method": "he", "reference": "r"}, 409},
			{"unknown field", "POST", "/v1/ekyc/sessions", "tok-a", map[string]string{"method": "he", "reference": "r", "x": "y"}, 400},
			{"chip from another tenant's device", "POST", "/v1/ekyc/sessions/" + id + "/chip", "dev-b", map[string]any{"kind": "jpdl", "files": map[string]string{"df1_ef01": "AA=="}}, 404},
			{"chip with the My Number", "POST", "/v1/ekyc/sessions/" + id + "/chip", "dev-a", map[string]any{"kind": "mynumber", "files": map[string]string{"textap_ef01": "MTIzNA=="}}, 422},
			{"chip not base64", "POST", "/v1/ekyc/sessions/" + id + "/chip", "dev-a", map[string]any{"kind": "jpdl", "files": map[string]string{"df1_ef01": "!!"}}, 400},
			{"sessions client cannot post chips", "POST", "/v1/ekyc/sessions/" + id + "/chip", "tok-a", map[string]any{"kind": "jpdl", "files": map[string]string{"df1_ef01": "AA=="}}, 403},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var body *bytes.Reader
				if tc.body != nil {
					body = jsonBody(tc.body)
				} else {
					body = bytes.NewReader(nil)
				}
				hdr := bearerHdr(tc.tok)
				if tc.tok == "" {
					delete(hdr, "Authorization")
				}
				w := do(t, h, tc.method, tc.path, body, hdr)
				if w.Code != tc.want {
					t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, w.Code, w.Body.String(), tc.want)
				}
				if w.Code >= 400 {
					p := decodeProblem(t, w)
					if strings.Contains(p.Detail, "cust-1") || strings.Contains(p.Detail, "ekyc: ") {
						t.Errorf("problem detail leaks internals: %q", p.Detail)
					}
				}
			})
		}

		// The capture page: redeem once, then bound frames.
		tok := strings.SplitN(sess["capture_url"].(string), "#t=", 2)[1]
		start := func() (int, map[string]any) {
			w := do(t, h, "POST", "/v1/ekyc/capture/start", nil, map[string]string{"Authorization": "Capture " + tok})
			var m map[string]any
			_ = json.Unmarshal(w.Body.Bytes(), &m)
			return w.Code, m
		}
		code, st := start()
		if code != 200 || st["capture_key"] == nil || st["frame_nonce"] == nil {
			t.Fatalf("capture start = %d %v", code, st)
		}
		if code, _ := start(); code != http.StatusUnauthorized {
			t.Errorf("second capture start = %d, want 401", code)
		}
		key := st["capture_key"].(string)
		rawKey, _ := base64.RawURLEncoding.DecodeString(key)
		nonce := st["frame_nonce"].(string)
		seq := 0
		post := func(source string, img []byte, nonce string) (int, map[string]any) {
			f := ekyc.Frame{Kind: ekyc.FrameSelfie, Seq: seq + 1, Nonce: nonce, CapturedAt: time.Now().Truncate(time.Millisecond), Source: source, Image: img}
			mac := base64.RawURLEncoding.EncodeToString(ekyc.FrameMAC(rawKey, id, &f))
			w := do(t, h, "POST", "/v1/ekyc/capture/frames", jsonBody(frameJSON{Kind: string(f.Kind), Seq: f.Seq, Nonce: f.Nonce,
				CapturedAt: f.CapturedAt.UnixMilli(), Source: source, Image: base64.StdEncoding.EncodeToString(img), MAC: mac}),
				map[string]string{"Authorization": "Capture-Key " + key, "Content-Type": "application/json"})
			var m map[string]any
			_ = json.Unmarshal(w.Body.Bytes(), &m)
			return w.Code, m
		}
		if code, _ := post("file", tinyPNG(t, 1), nonce); code != http.StatusUnprocessableEntity {
			t.Errorf("uploaded file frame = %d, want 422", code)
		}
		code, m := post(ekyc.SourceCamera, tinyPNG(t, 1), nonce)
		if code != http.StatusCreated || m["next_nonce"] == nil {
			t.Fatalf("camera frame = %d %v", code, m)
		}
		seq++
		if code, _ := post(ekyc.SourceCamera, tinyPNG(t, 2), nonce); code != http.StatusConflict {
			t.Errorf("frame with a used nonce = %d, want 409", code)
		}
		big := bytes.Repeat([]byte("A"), maxFrameBody+10)
		w := do(t, h, "POST", "/v1/ekyc/capture/frames", bytes.NewReader(append(append([]byte(`{"image":"`), big...), '"', '}')),
			map[string]string{"Authorization": "Capture-Key " + key, "Content-Type": "application/json"})
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("oversized frame body = %d, want 413", w.Code)
		}
		w = do(t, h, "POST", "/v1/ekyc/capture/submit", nil, map[string]string{"Authorization": "Capture-Key " + key})
		if w.Code != http.StatusConflict {
			t.Errorf("submit without chip = %d %s, want 409", w.Code, w.Body.String())
		}
		w = do(t, h, "POST", "/v1/ekyc/capture/submit", nil, map[string]string{"Authorization": "Capture-Key AAAA"})
		if w.Code != http.StatusUnauthorized {
			t.Errorf("submit with a bad key = %d, want 401", w.Code)
		}

		// JWKS and the review API's authentication.
		w = do(t, h, "GET", "/.well-known/jwks.json", nil, nil)
		var set struct{ Keys []map[string]string }
		if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil || w.Code != 200 || len(set.Keys) != 1 || set.Keys[0]["alg"] != "ES256" {
			t.Errorf("jwks = %d %s", w.Code, w.Body.String())
		}
		for _, tc := range []struct {
			tok  string
			want int
		}{{"", 401}, {"bogus", 401}, {"staff-aud", 403}, {"staff-rev", 200}} {
			hdr := map[string]string{}
			if tc.tok != "" {
				hdr["Authorization"] = "Bearer " + tc.tok
			}
			if w := do(t, h, "GET", "/v1/ekyc/review/pending", nil, hdr); w.Code != tc.want {
				t.Errorf("review pending with %q = %d, want %d", tc.tok, w.Code, tc.want)
			}
		}
		if w := do(t, h, "POST", "/v1/ekyc/review/"+id+"/claim", nil, map[string]string{"Authorization": "Bearer staff-rev"}); w.Code != http.StatusConflict {
			t.Errorf("claim a session not in review = %d, want 409", w.Code)
		}
		// An operator reviewer sees no tenant's session unless its policy
		// has operator_review: 404, like a missing one.
		if w := do(t, h, "POST", "/v1/ekyc/review/"+id+"/claim", nil, map[string]string{"Authorization": "Bearer staff-op"}); w.Code != http.StatusNotFound {
			t.Errorf("operator claims a session of a tenant without operator_review = %d, want 404", w.Code)
		}
	})
}

func TestEKYCProblemMapping(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{ekyc.ErrNotFound, 404}, {ekyc.ErrToken, 401}, {ekyc.ErrExpired, 410}, {ekyc.ErrBusy, 503},
		{ekyc.ErrForbidden, 403}, {ekyc.ErrTooLarge, 413}, {ekyc.ErrReplay, 409}, {ekyc.ErrBinding, 422},
		{fmt.Errorf("open record: %w", vault.ErrShredded), 410}, {ekyc.ErrNoPolicy, 409}, {ekyc.ErrMyNumber, 422},
	} {
		var p *Problem
		if err := ekycProblem(tc.err); !errors.As(err, &p) || p.Status != tc.want {
			t.Errorf("ekycProblem(%v) = %v, want status %d", tc.err, err, tc.want)
		}
	}
	if err := ekycProblem(errors.New("disk on fire")); errors.As(err, new(*Problem)) {
		t.Errorf("ekycProblem(unknown) = %v, want it passed through for a 500", err)
	}
}

// testNotifier is a real notifier (signed webhooks through the outbox) for
// the eKYC service under test.
func testNotifier(t *testing.T, db *store.DB, alog *audit.Log, v *vault.Vault) *notify.Notifier {
	t.Helper()
	_, wk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := notify.NewSigner(wk)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := notify.New(notify.Config{DB: db, Audit: alog, Vault: v, Signer: ws})
	if err != nil {
		t.Fatal(err)
	}
	return nt
}
