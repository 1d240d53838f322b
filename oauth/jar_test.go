package oauth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// requestObject signs the PAR parameters as a request object (RFC 9101)
// for c, with times relative to now; mod may change header or claims.
func (e *env) requestObject(c pclient, mod func(h, cl map[string]any)) string {
	now := e.clock.now().Unix()
	h := map[string]any{"alg": "ES256", "kid": "k1", "typ": "oauth-authz-req+jwt"}
	cl := map[string]any{"iss": c.id, "client_id": c.id, "aud": e.base, "jti": randomToken(), "iat": now, "nbf": now, "exp": now + 300}
	for k, v := range parParams(testVerifier) {
		cl[k] = v[0]
	}
	if mod != nil {
		mod(h, cl)
	}
	return sign(e.t, h, cl, c.key)
}

// TestRequestObjectTimes: JAR at PAR (FAPI 2.0 Message Signing §5.3): nbf
// no more than 60 minutes old, exp at most 60 minutes after nbf, neither
// in the future beyond the 10 s skew, both required integers; typ, iss,
// aud and jti checked; a replayed request object refused.
func TestRequestObjectTimes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		c := e.partner(e.tenant)
		now := e.clock.now().Unix()
		push := func(jws string) reply {
			return e.post(PathPAR, merge(e.clientAuth(c), url.Values{"request": {jws}}), nil)
		}
		set := func(kv ...any) func(h, cl map[string]any) {
			return func(h, cl map[string]any) {
				for i := 0; i < len(kv); i += 2 {
					if kv[i+1] == nil {
						delete(cl, kv[i].(string))
					} else {
						cl[kv[i].(string)] = kv[i+1]
					}
				}
			}
		}
		for _, tc := range []struct {
			name string
			mod  func(h, cl map[string]any)
			ok   bool
		}{
			{"valid", nil, true},
			{"nbf 59 minutes ago, exp 60 minutes after it", set("nbf", now-59*60, "exp", now+60), true},
			{"nbf 8 s ahead (skew)", set("nbf", now+8, "iat", now+8), true},
			{"aud as a one-element array", set("aud", []string{e.base}), true},
			{"nbf 61 minutes ago", set("nbf", now-61*60, "exp", now+60), false},
			{"exp more than 60 minutes after nbf", set("nbf", now, "exp", now+3601), false},
			{"nbf in the future", set("nbf", now+70, "exp", now+300), false},
			{"iat in the future", set("iat", now+70), false},
			{"expired", set("nbf", now-600, "exp", now-60), false},
			{"no exp", set("exp", nil), false},
			{"no nbf", set("nbf", nil), false},
			{"nbf as a string", set("nbf", json.Number("0").String()), false},
			{"exp fractional", set("exp", float64(now)+300.5), false},
			{"no jti", set("jti", nil), false},
			{"wrong iss", set("iss", "cl_other"), false},
			{"wrong client_id", set("client_id", "cl_other"), false},
			{"aud another server", set("aud", "https://other.example"), false},
			{"aud with two values", set("aud", []string{e.base, "https://other.example"}), false},
			{"typ of an ID token", func(h, cl map[string]any) { h["typ"] = "id_token+jwt" }, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := push(e.requestObject(c, tc.mod))
				if tc.ok && r.status != 201 {
					t.Fatalf("PAR(request object %s) = %d %s, want 201", tc.name, r.status, r.raw)
				}
				if !tc.ok && (r.status != 400 || r.code() != "invalid_request_object") {
					t.Fatalf("PAR(request object %s) = %d %s, want 400 invalid_request_object", tc.name, r.status, r.raw)
				}
			})
		}
		t.Run("replayed request object", func(t *testing.T) {
			jws := e.requestObject(c, nil)
			if r := push(jws); r.status != 201 {
				t.Fatalf("first push = %d %s", r.status, r.raw)
			}
			if r := push(jws); r.status != 400 || r.code() != "invalid_request_object" {
				t.Fatalf("replayed push = %d %s, want invalid_request_object", r.status, r.raw)
			}
		})
	})
}

// FuzzRequestObject: whatever claims a client signs, a request object is
// accepted only inside the Message Signing time window, from this client,
// for this issuer, and the checked claims never leak into the parameters.
func FuzzRequestObject(f *testing.F) {
	e := newEnv(f, storetest.SQLite(f))
	pc := e.partner(e.tenant)
	c, err := e.reg.Client(context.Background(), pc.tenant, pc.id)
	if err != nil {
		f.Fatal(err)
	}
	now := e.clock.now().Unix()
	for _, s := range []string{
		`{}`, `{"iss":"` + pc.id + `","aud":"` + e.base + `","nbf":` + strconv.FormatInt(now, 10) + `,"exp":` + strconv.FormatInt(now+60, 10) + `,"jti":"j"}`,
		`{"iss":"` + pc.id + `","aud":["` + e.base + `"],"nbf":1e3,"exp":9e18,"jti":"j2"}`,
		`{"iss":"` + pc.id + `","aud":"` + e.base + `","nbf":-1,"exp":-9223372036854775808,"jti":""}`,
		`{"a":{"b":[1,2,{"c":null}]}}`, `[]`, `{"iss":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		raw := signRaw(t, map[string]any{"alg": "ES256", "kid": "k1", "typ": "oauth-authz-req+jwt"}, payload, pc)
		cp, oe := e.srv.verifyRequestObject(context.Background(), raw, c)
		if oe != nil {
			return
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(payload))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatalf("accepted a payload that is not a JSON object: %q", payload)
		}
		nbf, _ := m["nbf"].(json.Number).Int64()
		exp, _ := m["exp"].(json.Number).Int64()
		at := time.Now().Unix()
		if m["iss"] != pc.id || nbf > at+int64(Skew/time.Second)+5 || exp-nbf > 3600 || nbf < at-3600-5 {
			t.Fatalf("accepted %q", payload)
		}
		for _, k := range []string{"iss", "aud", "exp", "nbf", "iat", "jti"} {
			if _, ok := cp[k]; ok {
				t.Fatalf("claim %q left in the parameters of %q", k, payload)
			}
		}
	})
}

// signRaw signs payload bytes as they are (the fuzzer's claims) with c's key.
func signRaw(t testing.TB, header map[string]any, payload []byte, c pclient) string {
	h, _ := json.Marshal(header)
	in := b64.EncodeToString(h) + "." + b64.EncodeToString(payload)
	d := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, c.key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + b64.EncodeToString(sig)
}
