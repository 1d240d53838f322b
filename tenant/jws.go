package tenant

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"sync"
)

// This file exports the package's strict JOSE verifier to the authorization
// server (package oauth): request objects (JAR), DPoP proofs and client
// assertions are all checked by the same parser, so the project has one
// JOSE stack. Signing lives with the keys that sign (oauth, ekyc).

// JWS is a parsed compact JWS whose signature has not been checked yet.
type JWS struct{ c *compactJWS }

// ParseJWS parses a compact JWS under the house rules (strict base64url,
// header allow-list alg/kid/typ, FAPI algorithms only, duplicate members
// refused) with a size limit of maxLen bytes (0: MaxAssertionLen).
func ParseJWS(s string, maxLen int) (*JWS, error) {
	c, err := parseCompactJWSOpts(s, jwsOptions{maxLen: maxLen})
	if err != nil {
		return nil, err
	}
	return &JWS{c: c}, nil
}

// ParseJWSWithKey is ParseJWS for profiles that carry the signer's public
// key in the header (DPoP proofs, RFC 9449 §4.2): the "jwk" header parameter
// is required, must be a public key of an allowed type, and the JWS must
// verify under it. It returns the embedded key.
func ParseJWSWithKey(s string, maxLen int) (*JWS, *JWK, error) {
	return (*KeyCache)(nil).ParseJWSWithKey(s, maxLen)
}

// KeyCache remembers the keys embedded in JWS headers (DPoP proofs), by
// the exact JSON text of the jwk member, with their RFC 7638 thumbprints:
// a client sends the same key with every proof, and parsing it (base64,
// point decoding and the on-curve check, the thumbprint's hash) costs as
// much as the rest of the proof's JSON. The text determines the parsed
// key, so a hit is exactly what parsing would return; only keys that
// parsed are kept. At most max entries: when full, an arbitrary one is
// evicted. Safe for concurrent use; a nil *KeyCache parses every time.
type KeyCache struct {
	mu  sync.Mutex
	max int
	m   map[string]*JWK
}

// NewKeyCache returns a cache of at most size keys (at least 1).
func NewKeyCache(size int) *KeyCache {
	return &KeyCache{max: max(1, size), m: make(map[string]*JWK)}
}

func (kc *KeyCache) key(raw []byte) (*JWK, error) {
	if kc != nil {
		kc.mu.Lock()
		k := kc.m[string(raw)]
		kc.mu.Unlock()
		if k != nil {
			return k, nil
		}
	}
	k, _, err := parseJWK(raw, false)
	if err != nil {
		return nil, err
	}
	if kc != nil {
		k.thumb = k.Thumbprint() // set before the key is shared
		kc.mu.Lock()
		if len(kc.m) >= kc.max {
			for old := range kc.m {
				delete(kc.m, old)
				break
			}
		}
		kc.m[string(raw)] = k
		kc.mu.Unlock()
	}
	return k, nil
}

// ParseJWSWithKey is the package function with the embedded key taken from
// (and added to) the cache.
func (kc *KeyCache) ParseJWSWithKey(s string, maxLen int) (*JWS, *JWK, error) {
	c, err := parseCompactJWSOpts(s, jwsOptions{maxLen: maxLen, allowJWK: true})
	if err != nil {
		return nil, nil, err
	}
	if len(c.header.JWK) == 0 {
		return nil, nil, fmt.Errorf("%w: header has no jwk", ErrMalformedJWS)
	}
	k, err := kc.key(c.header.JWK)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: header jwk: %v", ErrMalformedJWS, err)
	}
	if !keyAllows(k, c.header.Alg) {
		return nil, nil, ErrKeyAlgMismatch
	}
	if err := verifySignature(c.header.Alg, k, c.signingInput, c.signature); err != nil {
		return nil, nil, err
	}
	return &JWS{c: c}, k, nil
}

// Alg, Kid and Typ return the protected header's members.
func (j *JWS) Alg() string { return j.c.header.Alg }

// Kid returns the header's key id ("" if absent).
func (j *JWS) Kid() string { return j.c.header.Kid }

// Typ returns the header's type ("" if absent).
func (j *JWS) Typ() string { return j.c.header.Typ }

// Payload returns the payload bytes. They are not authenticated until
// Verify succeeds.
func (j *JWS) Payload() []byte { return j.c.payload }

// Verify checks the JWS's signature against the set: the header's kid (or,
// without one, the single key for the algorithm) selects the key, whose type
// must fit the algorithm.
func (ks *KeySet) Verify(j *JWS) error {
	if ks == nil {
		return ErrUnknownKey
	}
	return ks.verify(j.c)
}

// DecodeObject decodes one JSON object strictly: valid UTF-8, no duplicate
// members, nesting at most 8 deep, no trailing data. Numbers stay
// json.Number-compatible raw text.
func DecodeObject(b []byte) (map[string]json.RawMessage, error) { return decodeObject(b) }

// ParseJWK parses one public JWK (kid optional) under the same rules as a
// registered key set: EC P-256, Ed25519 or RSA 2048–8192 with e=65537, no
// private members.
func ParseJWK(b []byte) (*JWK, error) {
	k, _, err := parseJWK(b, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidJWKS, err)
	}
	return k, nil
}

// Thumbprint returns the key's RFC 7638 SHA-256 thumbprint, base64url: the
// required members in lexicographic order, no whitespace.
func (k *JWK) Thumbprint() string {
	if k.thumb != "" {
		return k.thumb
	}
	var j string
	switch pub := k.pub.(type) {
	case *ecdsa.PublicKey:
		b, err := pub.Bytes()
		if err != nil || len(b) != 65 {
			return ""
		}
		j = `{"crv":"P-256","kty":"EC","x":"` + b64.EncodeToString(b[1:33]) + `","y":"` + b64.EncodeToString(b[33:]) + `"}`
	case ed25519.PublicKey:
		j = `{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(pub) + `"}`
	case *rsa.PublicKey:
		e := big.NewInt(int64(pub.E)).Bytes()
		j = `{"e":"` + b64.EncodeToString(e) + `","kty":"RSA","n":"` + b64.EncodeToString(pub.N.Bytes()) + `"}`
	default:
		return ""
	}
	d := sha256.Sum256([]byte(j))
	return b64.EncodeToString(d[:])
}
