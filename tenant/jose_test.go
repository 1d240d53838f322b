package tenant

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// RFC 7515 Appendix A.3: ES256 over the "joe" claims set.
const (
	rfc7515A3JWKS  = `{"keys":[{"kty":"EC","crv":"P-256","kid":"a3","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`
	rfc7515A3Token = "eyJhbGciOiJFUzI1NiJ9" +
		".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ" +
		".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
	rfc7515A3Payload = "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}"

	// RFC 8037 Appendix A.1, A.4: Ed25519 over "Example of Ed25519 signing".
	rfc8037Seed  = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
	rfc8037JWKS  = `{"keys":[{"crv":"Ed25519","kid":"a4","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`
	rfc8037Token = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc" +
		".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)

func verifyCompact(t *testing.T, jwks, token string) ([]byte, error) {
	t.Helper()
	ks, err := ParseKeySet([]byte(jwks))
	if err != nil {
		t.Fatalf("ParseKeySet = %v", err)
	}
	j, err := parseCompactJWS(token)
	if err != nil {
		return nil, err
	}
	if err := ks.verify(j); err != nil {
		return nil, err
	}
	return j.payload, nil
}

func TestKnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, jwks, token, payload string
	}{
		{"RFC7515-A.3-ES256", rfc7515A3JWKS, rfc7515A3Token, rfc7515A3Payload},
		{"RFC8037-A.4-EdDSA", rfc8037JWKS, rfc8037Token, "Example of Ed25519 signing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := verifyCompact(t, tc.jwks, tc.token)
			if err != nil {
				t.Fatalf("verify(%s) = %v, want nil", tc.name, err)
			}
			if string(got) != tc.payload {
				t.Errorf("payload = %q, want %q", got, tc.payload)
			}
			// The last signature character flipped must fail.
			bad := tc.token[:len(tc.token)-2] + string(tc.token[len(tc.token)-2]^1) + tc.token[len(tc.token)-1:]
			if _, err := verifyCompact(t, tc.jwks, bad); err == nil {
				t.Errorf("verify(tampered %s) = nil, want an error", tc.name)
			}
		})
	}
}

// RFC 8037 A.4: signing the RFC's input with the RFC's seed reproduces the
// RFC's signature (Ed25519 is deterministic), and the public key derived from
// the seed is the RFC's x.
func TestRFC8037Signing(t *testing.T) {
	seed, err := b64.DecodeString(rfc8037Seed)
	if err != nil {
		t.Fatal(err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	input := "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
	if got := input + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(input))); got != rfc8037Token {
		t.Errorf("Ed25519 sign(RFC 8037 A.4) = %s, want %s", got, rfc8037Token)
	}
	if got, want := jwksOf(signingKey{AlgEdDSA, "a4", priv}), rfc8037JWKS; got != want {
		t.Errorf("JWKS of RFC 8037 key = %s, want %s", got, want)
	}
}

func seg(s string) string { return b64.EncodeToString([]byte(s)) }

func TestParseCompactJWSRefuses(t *testing.T) {
	sig := seg("0123456789012345678901234567890123456789012345678901234567890123")
	body := seg(`{"iss":"x"}`)
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", ErrMalformedJWS},
		{"two segments", seg(`{"alg":"ES256"}`) + "." + body, ErrMalformedJWS},
		{"four segments", seg(`{"alg":"ES256"}`) + "." + body + "." + sig + ".x", ErrMalformedJWS},
		{"JWE five segments", "a.b.c.d.e", ErrMalformedJWS},
		{"alg none unsigned", seg(`{"alg":"none"}`) + "." + body + ".", ErrMalformedJWS},
		{"alg none with signature", seg(`{"alg":"none"}`) + "." + body + "." + sig, ErrAlgNotAllowed},
		{"alg None", seg(`{"alg":"None"}`) + "." + body + "." + sig, ErrAlgNotAllowed},
		{"alg HS256", seg(`{"alg":"HS256"}`) + "." + body + "." + sig, ErrAlgNotAllowed},
		{"alg RS256", seg(`{"alg":"RS256"}`) + "." + body + "." + sig, ErrAlgNotAllowed},
		{"alg ES384", seg(`{"alg":"ES384"}`) + "." + body + "." + sig, ErrAlgNotAllowed},
		{"no alg", seg(`{"kid":"k"}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"alg not a string", seg(`{"alg":1}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"embedded jwk", seg(`{"alg":"ES256","jwk":{"kty":"EC"}}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"jku", seg(`{"alg":"ES256","jku":"https://evil"}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"x5c", seg(`{"alg":"ES256","x5c":["MII"]}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"crit", seg(`{"alg":"ES256","crit":["exp"]}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"b64 false", seg(`{"alg":"ES256","b64":false}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"zip", seg(`{"alg":"ES256","zip":"DEF"}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"duplicate alg", seg(`{"alg":"HS256","alg":"ES256"}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"header not object", seg(`["alg"]`) + "." + body + "." + sig, ErrMalformedJWS},
		{"header trailing", seg(`{"alg":"ES256"}x`) + "." + body + "." + sig, ErrMalformedJWS},
		{"header invalid utf8", b64.EncodeToString([]byte("{\"alg\":\"ES256\",\"kid\":\"\xff\"}")) + "." + body + "." + sig, ErrMalformedJWS},
		{"padded header", seg(`{"alg":"ES256"}`) + "=." + body + "." + sig, ErrMalformedJWS},
		{"std alphabet", strings.ReplaceAll(seg(`{"alg":"ES256","kid":"??>"}`), "_", "/") + "." + body + "." + sig, ErrMalformedJWS},
		{"whitespace", seg(`{"alg":"ES256"}`) + "\n." + body + "." + sig, ErrMalformedJWS},
		{"empty signature", seg(`{"alg":"ES256"}`) + "." + body + ".", ErrMalformedJWS},
		{"oversized", seg(`{"alg":"ES256"}`) + "." + strings.Repeat("A", MaxAssertionLen) + "." + sig, ErrMalformedJWS},
		{"deep header", seg(`{"alg":"ES256","kid":`+strings.Repeat("[", 20)+strings.Repeat("]", 20)+`}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"long kid", seg(`{"alg":"ES256","kid":"`+strings.Repeat("k", maxKidLen+1)+`"}`) + "." + body + "." + sig, ErrMalformedJWS},
		// A present member has a non-empty string value: null or "" is
		// not "absent" (a null kid would select "the single key").
		{"kid null", seg(`{"alg":"ES256","kid":null}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"kid empty", seg(`{"alg":"ES256","kid":""}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"kid number", seg(`{"alg":"ES256","kid":1}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"kid object", seg(`{"alg":"ES256","kid":{}}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"alg null", seg(`{"alg":null,"kid":"k"}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"alg empty", seg(`{"alg":"","kid":"k"}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"typ null", seg(`{"alg":"ES256","typ":null}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"typ empty", seg(`{"alg":"ES256","typ":""}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"typ false", seg(`{"alg":"ES256","typ":false}`) + "." + body + "." + sig, ErrMalformedJWS},
		{"jwk null where not allowed", seg(`{"alg":"ES256","jwk":null}`) + "." + body + "." + sig, ErrMalformedJWS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseCompactJWS(tc.token)
			if !errors.Is(err, tc.want) {
				t.Errorf("parseCompactJWS(%s) = %v, want %v", tc.name, err, tc.want)
			}
		})
	}
}

// HMAC confusion: a token "signed" with HS256 using the public key as the
// MAC key must be refused, whichever encoding of the public key is used.
func TestHMACWithPublicKeyRefused(t *testing.T) {
	k := newKey(t, AlgES256, "k1")
	ks, err := ParseKeySet([]byte(jwksOf(k)))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range [][]byte{[]byte(ks.JSON()), mustJSON(k.jwk())} {
		for _, alg := range []string{"HS256", "hs256"} {
			hb := seg(`{"alg":"` + alg + `","kid":"k1"}`)
			input := hb + "." + seg(`{"iss":"c"}`)
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(input))
			tok := input + "." + b64.EncodeToString(m.Sum(nil))
			j, err := parseCompactJWS(tok)
			if err == nil {
				err = ks.verify(j)
			}
			if !errors.Is(err, ErrAlgNotAllowed) {
				t.Errorf("verify(%s with public key as secret) = %v, want ErrAlgNotAllowed", alg, err)
			}
		}
	}
}

func TestKeySelection(t *testing.T) {
	ec := newKey(t, AlgES256, "ec")
	ed := newKey(t, AlgEdDSA, "ed")
	other := newKey(t, AlgES256, "ec") // same kid, different key
	ks, err := ParseKeySet([]byte(jwksOf(ec, ed)))
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"iss":"c"}`)
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"ES256 by kid", ec.sign(t, nil, payload), nil},
		{"EdDSA by kid", ed.sign(t, nil, payload), nil},
		{"Ed25519 name", ed.sign(t, map[string]any{"alg": "Ed25519"}, payload), nil},
		{"no kid, one key for alg", ed.sign(t, map[string]any{"kid": nil}, payload), nil},
		{"unknown kid", ec.sign(t, map[string]any{"kid": "nope"}, payload), ErrUnknownKey},
		{"EC key named with EdDSA", ed.sign(t, map[string]any{"kid": "ec"}, payload), ErrKeyAlgMismatch},
		{"Ed key named with ES256", ec.sign(t, map[string]any{"kid": "ed"}, payload), ErrKeyAlgMismatch},
		{"PS256 with EC key", ec.sign(t, map[string]any{"alg": "PS256"}, payload), ErrKeyAlgMismatch},
		{"wrong key same kid", other.sign(t, nil, payload), ErrBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, err := parseCompactJWS(tc.token)
			if err != nil {
				t.Fatalf("parseCompactJWS = %v", err)
			}
			if err := ks.verify(j); !errors.Is(err, tc.want) {
				t.Errorf("verify(%s) = %v, want %v", tc.name, err, tc.want)
			}
		})
	}
}

func TestParseKeySet(t *testing.T) {
	ec := newKey(t, AlgES256, "ec")
	ps := newKey(t, AlgPS256, "ps")
	ecj := ec.jwk()
	with := func(base map[string]any, kv ...any) string {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return `{"keys":[` + string(mustJSON(m)) + `]}`
	}
	good := []string{
		jwksOf(ec), jwksOf(ps), jwksOf(newKey(t, AlgEdDSA, "ed")), jwksOf(ec, ps),
		with(ecj, "alg", "ES256", "use", "sig"), with(ecj, "key_ops", []string{"verify"}),
	}
	for _, s := range good {
		if _, err := ParseKeySet([]byte(s)); err != nil {
			t.Errorf("ParseKeySet(%s) = %v, want nil", s, err)
		}
	}
	small := ps.jwk()
	small["n"] = b64.EncodeToString(make([]byte, 128))
	bad := map[string]string{
		"private d":        with(ecj, "d", "AAAA"),
		"oct key":          `{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}`,
		"x5c":              with(ecj, "x5c", []string{"MII"}),
		"no kid":           with(ecj, "kid", nil),
		"empty":            `{"keys":[]}`,
		"not object":       `[]`,
		"extra top":        `{"keys":[],"x":1}`,
		"duplicate kid":    jwksOf(ec, newKey(t, AlgEdDSA, "ec")),
		"P-384":            with(ecj, "crv", "P-384"),
		"short x":          with(ecj, "x", "AAAA"),
		"off curve":        with(ecj, "y", b64.EncodeToString(make([]byte, 32))),
		"alg mismatch":     with(ecj, "alg", "EdDSA"),
		"alg HS256":        with(ecj, "alg", "HS256"),
		"use enc":          with(ecj, "use", "enc"),
		"key_ops sign":     with(ecj, "key_ops", []string{"sign"}),
		"RSA 1024":         with(small),
		"RSA e=3":          with(ps.jwk(), "e", "Aw"),
		"duplicate member": `{"keys":[{"kty":"EC","kty":"RSA"}]}`,
		"too many": func() string {
			var ks []signingKey
			for i := 0; i <= MaxJWKSKeys; i++ {
				ks = append(ks, signingKey{AlgES256, string(rune('a' + i)), ec.priv})
			}
			return jwksOf(ks...)
		}(),
		"oversized": `{"keys":[` + strings.Repeat(" ", MaxJWKSLen) + `]}`,
	}
	for name, s := range bad {
		if _, err := ParseKeySet([]byte(s)); !errors.Is(err, ErrInvalidJWKS) {
			t.Errorf("ParseKeySet(%s) = %v, want ErrInvalidJWKS", name, err)
		}
	}
	// The stored form never carries anything but public members.
	ks, err := ParseKeySet([]byte(with(ecj, "alg", "ES256")))
	if err != nil {
		t.Fatal(err)
	}
	var back map[string][]map[string]any
	if err := json.Unmarshal([]byte(ks.JSON()), &back); err != nil {
		t.Fatal(err)
	}
	for k := range back["keys"][0] {
		if !jwkMembers[k] {
			t.Errorf("KeySet.JSON() has member %q", k)
		}
	}
}

func FuzzParseCompactJWS(f *testing.F) {
	f.Add(rfc7515A3Token)
	f.Add(rfc8037Token)
	f.Add(seg(`{"alg":"none"}`) + "." + seg(`{}`) + ".")
	f.Add(seg(`{"alg":"ES256","kid":"a3","typ":"JWT"}`) + "." + seg(`{"iss":"c","aud":["x"],"exp":1,"iat":0}`) + ".AA")
	f.Add("a.b.c")
	f.Add(seg(`{"alg":"ES256","kid":null}`) + "." + seg(`{}`) + ".AA")
	f.Add(seg(`{"alg":"ES256","kid":"","typ":null}`) + "." + seg(`{}`) + ".AA")
	ks, err := ParseKeySet([]byte(rfc7515A3JWKS))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		j, err := parseCompactJWS(s)
		if err != nil {
			return
		}
		if !allowedAlg(j.header.Alg) {
			t.Fatalf("parseCompactJWS accepted alg %q", j.header.Alg)
		}
		// A kid or typ present in the header is never read as absent.
		hb, _ := b64.DecodeString(s[:strings.IndexByte(s, '.')])
		m, _ := decodeObject(hb)
		for _, k := range []string{"kid", "typ"} {
			if _, present := m[k]; present && (k == "kid" && j.header.Kid == "" || k == "typ" && j.header.Typ == "") {
				t.Fatalf("parseCompactJWS accepted a present %s as empty: %s", k, hb)
			}
		}
		if !strings.HasPrefix(s, j.signingInput+".") {
			t.Fatalf("signing input is not a prefix of the token")
		}
		_ = ks.verify(j)
		_, _ = parseAssertionClaims(j.payload)
	})
}

func FuzzParseKeySet(f *testing.F) {
	f.Add([]byte(rfc7515A3JWKS))
	f.Add([]byte(rfc8037JWKS))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ks, err := ParseKeySet(b)
		if err != nil {
			return
		}
		again, err := ParseKeySet([]byte(ks.JSON()))
		if err != nil {
			t.Fatalf("ParseKeySet(JSON()) = %v after accepting the original", err)
		}
		if again.JSON() != ks.JSON() {
			t.Fatalf("JSON() not stable: %s vs %s", again.JSON(), ks.JSON())
		}
	})
}

// FuzzParseJWSWithKey: a JWS carrying its own key (DPoP proofs) is
// accepted only with an allowed algorithm, a public key of a type that
// fits it and a signature that verifies under that key; the signing input
// is the token's prefix and the key has a thumbprint.
func FuzzParseJWSWithKey(f *testing.F) {
	k := newKey(f, AlgES256, "")
	jwk := k.jwk()
	delete(jwk, "kid")
	valid := k.sign(f, map[string]any{"typ": "dpop+jwt", "jwk": jwk, "kid": nil}, []byte(`{"jti":"j","htm":"GET","htu":"https://as.example/x","iat":1}`))
	if _, _, err := ParseJWSWithKey(valid, 0); err != nil {
		f.Fatalf("ParseJWSWithKey(valid proof) = %v", err)
	}
	f.Add(valid)
	f.Add(strings.Replace(valid, ".", ".e30", 1)) // payload altered: signature fails
	f.Add(seg(`{"alg":"ES256","typ":"dpop+jwt","jwk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}}`) + "." + seg(`{}`) + ".AA")
	f.Add(seg(`{"alg":"ES256","typ":"dpop+jwt","jwk":{"kty":"oct","k":"AAAA"}}`) + "." + seg(`{}`) + ".AA")
	f.Add(seg(`{"alg":"none","jwk":{}}`) + "." + seg(`{}`) + ".")
	f.Add(seg(`{"alg":"ES256","typ":"dpop+jwt","jwk":null}`) + "." + seg(`{}`) + ".AA")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, s string) {
		j, key, err := ParseJWSWithKey(s, 0)
		if err != nil {
			return
		}
		if !allowedAlg(j.Alg()) || !keyAllows(key, j.Alg()) || key.Thumbprint() == "" {
			t.Fatalf("ParseJWSWithKey accepted alg %q with key %+v", j.Alg(), key)
		}
		if !strings.HasPrefix(s, j.c.signingInput+".") {
			t.Fatalf("signing input is not a prefix of the token")
		}
		if err := verifySignature(j.Alg(), key, j.c.signingInput, j.c.signature); err != nil {
			t.Fatalf("accepted a signature that does not verify: %v", err)
		}
	})
}

// TestParseJWSWithKeyHeaderTypes: the embedded jwk must be an object and
// the other members non-empty strings; null is never "absent".
func TestParseJWSWithKeyHeaderTypes(t *testing.T) {
	k := newKey(t, AlgES256, "")
	jwk := k.jwk()
	delete(jwk, "kid")
	claims := []byte(`{"jti":"j","htm":"GET","htu":"https://as.example/x","iat":1}`)
	if _, _, err := ParseJWSWithKey(k.sign(t, map[string]any{"typ": "dpop+jwt", "jwk": jwk}, claims), 0); err != nil {
		t.Fatalf("ParseJWSWithKey(valid) = %v", err)
	}
	for _, tc := range []struct {
		name string
		h    map[string]any
	}{
		{"jwk null", map[string]any{"typ": "dpop+jwt", "jwk": json.RawMessage(`null`)}},
		{"jwk string", map[string]any{"typ": "dpop+jwt", "jwk": "eyJ"}},
		{"jwk array", map[string]any{"typ": "dpop+jwt", "jwk": []any{jwk}}},
		{"typ null", map[string]any{"typ": json.RawMessage(`null`), "jwk": jwk}},
		{"kid null", map[string]any{"typ": "dpop+jwt", "jwk": jwk, "kid": json.RawMessage(`null`)}},
		{"kid empty", map[string]any{"typ": "dpop+jwt", "jwk": jwk, "kid": json.RawMessage(`""`)}},
		{"alg null", map[string]any{"typ": "dpop+jwt", "jwk": jwk, "alg": json.RawMessage(`null`)}},
	} {
		if _, _, err := ParseJWSWithKey(k.sign(t, tc.h, claims), 0); !errors.Is(err, ErrMalformedJWS) {
			t.Errorf("ParseJWSWithKey(%s) = %v, want ErrMalformedJWS", tc.name, err)
		}
	}
}

// TestKeyCache: cached keys give the same answers as parsing, the cache
// stays within its bound, and a proof tampered after its key was cached
// still fails.
func TestKeyCache(t *testing.T) {
	kc := NewKeyCache(2)
	claims := []byte(`{"jti":"j","htm":"GET","htu":"https://as.example/x","iat":1}`)
	for i := range 5 {
		k := newKey(t, AlgES256, "")
		jwk := k.jwk()
		delete(jwk, "kid")
		proof := k.sign(t, map[string]any{"typ": "dpop+jwt", "jwk": jwk}, claims)
		for range 2 {
			_, got, err := kc.ParseJWSWithKey(proof, 0)
			if err != nil {
				t.Fatalf("key %d: %v", i, err)
			}
			_, fresh, _ := ParseJWSWithKey(proof, 0)
			if got.Thumbprint() != fresh.Thumbprint() {
				t.Errorf("key %d: cached thumbprint %s, parsed %s", i, got.Thumbprint(), fresh.Thumbprint())
			}
		}
		tampered := proof[:strings.LastIndexByte(proof, '.')] + "." + seg(strings.Repeat("x", 64))
		if _, _, err := kc.ParseJWSWithKey(tampered, 0); !errors.Is(err, ErrBadSignature) {
			t.Errorf("key %d: tampered proof with a cached key = %v, want ErrBadSignature", i, err)
		}
		if len(kc.m) > 2 {
			t.Fatalf("cache holds %d keys, bound 2", len(kc.m))
		}
	}
}
