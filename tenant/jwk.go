package tenant

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// Limits on a registered JWKS.
const (
	MaxJWKSLen   = 64 << 10
	MaxJWKSKeys  = 16
	maxKidLen    = 128
	minRSABits   = 2048
	maxRSABits   = 8192
	rsaExponent  = 65537
	maxMemberLen = 2048 // base64url of an 8192-bit modulus is 1366 bytes
)

// JWK is one registered public verification key.
type JWK struct {
	Kid string // key id, unique in its set
	Kty string // "EC", "RSA" or "OKP"
	Alg string // the one algorithm this key verifies (ES256, PS256 or EdDSA)
	pub crypto.PublicKey
	// thumb is the RFC 7638 thumbprint, set only by KeyCache before the
	// key is shared ("" elsewhere: computed on each call).
	thumb string
}

// KeySet is a client's registered public keys, parsed from a JWKS (RFC 7517
// §5). It holds public keys only; a set carrying private key material is
// refused at parse time.
type KeySet struct {
	keys []*JWK
	raw  string // canonical JSON as registered
}

// Keys returns the keys in registration order.
func (ks *KeySet) Keys() []*JWK { return slices.Clone(ks.keys) }

// JSON returns the set as registered (public members only).
func (ks *KeySet) JSON() string { return ks.raw }

// jwkMembers lists the members a registered JWK may carry. Private members
// (d, p, q, dp, dq, qi, oth, k) and certificate or URL members are refused.
var jwkMembers = map[string]bool{
	"kty": true, "crv": true, "x": true, "y": true, "n": true, "e": true,
	"kid": true, "alg": true, "use": true, "key_ops": true,
}

// ParseKeySet parses and validates a JWKS: at most MaxJWKSKeys keys, each
// EC P-256, OKP Ed25519 or RSA 2048–8192 bits with e=65537; every key has a
// unique kid; "use", if present, is "sig"; "key_ops", if present, is
// ["verify"]; "alg", if present, matches the key type.
func ParseKeySet(b []byte) (*KeySet, error) {
	if len(b) > MaxJWKSLen {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidJWKS, len(b), MaxJWKSLen)
	}
	top, err := decodeObject(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidJWKS, err)
	}
	rawKeys, ok := top["keys"]
	if !ok || len(top) != 1 {
		return nil, fmt.Errorf("%w: want an object with exactly one member, \"keys\"", ErrInvalidJWKS)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(rawKeys, &list); err != nil {
		return nil, fmt.Errorf("%w: \"keys\" is not an array", ErrInvalidJWKS)
	}
	if len(list) == 0 || len(list) > MaxJWKSKeys {
		return nil, fmt.Errorf("%w: %d keys, want 1 to %d", ErrInvalidJWKS, len(list), MaxJWKSKeys)
	}
	ks := &KeySet{}
	seen := map[string]bool{}
	canon := make([]map[string]any, 0, len(list))
	for i, raw := range list {
		k, c, err := parseJWK(raw, true)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrInvalidJWKS, i, err)
		}
		if seen[k.Kid] {
			return nil, fmt.Errorf("%w: key %d: duplicate kid", ErrInvalidJWKS, i)
		}
		seen[k.Kid] = true
		ks.keys = append(ks.keys, k)
		canon = append(canon, c)
	}
	out, err := json.Marshal(map[string]any{"keys": canon})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidJWKS, err)
	}
	ks.raw = string(out)
	return ks, nil
}

func parseJWK(raw json.RawMessage, requireKid bool) (*JWK, map[string]any, error) {
	m, err := decodeObject(raw)
	if err != nil {
		return nil, nil, err
	}
	str := map[string]string{}
	for name, v := range m {
		if !jwkMembers[name] {
			return nil, nil, fmt.Errorf("member %q is not allowed (public verification keys only)", truncate(name))
		}
		if name == "key_ops" {
			var ops []string
			if err := json.Unmarshal(v, &ops); err != nil || len(ops) != 1 || ops[0] != "verify" {
				return nil, nil, errors.New(`key_ops must be ["verify"]`)
			}
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, nil, fmt.Errorf("member %q is not a string", name)
		}
		if len(s) > maxMemberLen {
			return nil, nil, fmt.Errorf("member %q is too long", name)
		}
		str[name] = s
	}
	k := &JWK{Kid: str["kid"], Kty: str["kty"]}
	if (requireKid || k.Kid != "") && (k.Kid == "" || len(k.Kid) > maxKidLen || !printableASCII(k.Kid)) {
		return nil, nil, fmt.Errorf("kid must be 1-%d printable ASCII characters", maxKidLen)
	}
	if u, ok := str["use"]; ok && u != "sig" {
		return nil, nil, errors.New(`use must be "sig"`)
	}
	canon := map[string]any{"kty": k.Kty, "kid": k.Kid, "use": "sig"}
	switch k.Kty {
	case "EC":
		if str["crv"] != "P-256" {
			return nil, nil, errors.New("EC keys must be on P-256")
		}
		x, err1 := decodeSegment(str["x"])
		y, err2 := decodeSegment(str["y"])
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, nil, errors.New("EC x and y must be 32-byte base64url")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, nil, errors.New("EC point is not on P-256")
		}
		k.pub, k.Alg = pub, AlgES256
		canon["crv"], canon["x"], canon["y"] = "P-256", str["x"], str["y"]
		if _, ok := str["n"]; ok {
			return nil, nil, errors.New("EC key carries RSA members")
		}
	case "OKP":
		if str["crv"] != "Ed25519" {
			return nil, nil, errors.New("OKP keys must be Ed25519")
		}
		x, err := decodeSegment(str["x"])
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, nil, errors.New("Ed25519 x must be 32-byte base64url")
		}
		k.pub, k.Alg = ed25519.PublicKey(x), AlgEdDSA
		canon["crv"], canon["x"] = "Ed25519", str["x"]
		if _, ok := str["y"]; ok {
			return nil, nil, errors.New("OKP key carries a y member")
		}
	case "RSA":
		n, err1 := decodeSegment(str["n"])
		e, err2 := decodeSegment(str["e"])
		if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 {
			return nil, nil, errors.New("RSA n and e must be base64url")
		}
		if n[0] == 0 || e[0] == 0 {
			return nil, nil, errors.New("RSA n and e must use the minimal number of octets")
		}
		nn := new(big.Int).SetBytes(n)
		if bits := nn.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, nil, fmt.Errorf("RSA modulus is %d bits, want %d to %d", bits, minRSABits, maxRSABits)
		}
		if len(e) > 4 || new(big.Int).SetBytes(e).Int64() != rsaExponent {
			return nil, nil, fmt.Errorf("RSA public exponent must be %d", rsaExponent)
		}
		k.pub, k.Alg = &rsa.PublicKey{N: nn, E: rsaExponent}, AlgPS256
		canon["n"], canon["e"] = str["n"], str["e"]
		if _, ok := str["x"]; ok {
			return nil, nil, errors.New("RSA key carries EC members")
		}
	case "":
		return nil, nil, errors.New("kty missing")
	default:
		return nil, nil, fmt.Errorf("kty %q not supported (EC, OKP or RSA)", truncate(k.Kty))
	}
	if a, ok := str["alg"]; ok {
		if !keyAllows(k, a) {
			return nil, nil, fmt.Errorf("alg %q does not match a %s key", truncate(a), k.Kty)
		}
		canon["alg"] = a
	}
	return k, canon, nil
}

// keyAllows reports whether alg may be verified with k. EdDSA and Ed25519 name
// the same algorithm for an Ed25519 key.
func keyAllows(k *JWK, alg string) bool {
	if k.Alg == AlgEdDSA {
		return alg == AlgEdDSA || alg == AlgEd25519
	}
	return alg == k.Alg
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// candidates returns the keys that may verify a JWS with the given header: a
// kid, when present, selects keys with that kid; without a kid the set must
// hold exactly one key for the algorithm. The key's type must fit alg (FAPI
// 2.0 §5.4: match kty/alg, never cross algorithms).
func (ks *KeySet) candidates(h jwsHeader) ([]*JWK, error) {
	var out []*JWK
	kidMatched := false
	for _, k := range ks.keys {
		if h.Kid != "" && k.Kid != h.Kid {
			continue
		}
		kidMatched = true
		if keyAllows(k, h.Alg) {
			out = append(out, k)
		}
	}
	switch {
	case h.Kid != "" && !kidMatched:
		return nil, ErrUnknownKey
	case len(out) == 0:
		return nil, ErrKeyAlgMismatch
	case h.Kid == "" && len(out) != 1:
		return nil, fmt.Errorf("%w: no kid and %d keys for %s", ErrUnknownKey, len(out), h.Alg)
	}
	return out, nil
}

// verify checks a parsed JWS against the set.
func (ks *KeySet) verify(j *compactJWS) error {
	keys, err := ks.candidates(j.header)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := verifySignature(j.header.Alg, k, j.signingInput, j.signature); err == nil {
			return nil
		}
	}
	return ErrBadSignature
}
