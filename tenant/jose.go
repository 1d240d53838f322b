package tenant

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Limits on JOSE input, checked before any decoding.
const (
	// MaxAssertionLen bounds a compact JWS client assertion.
	MaxAssertionLen = 8 << 10
	// maxHeaderLen bounds the decoded protected header.
	maxHeaderLen = 1 << 10
	// maxJSONDepth bounds nesting in decoded JOSE JSON.
	maxJSONDepth = 8
)

// Signature algorithms accepted (FAPI 2.0 §5.4): ES256, PS256 and EdDSA over
// Ed25519 ("Ed25519" is RFC 9864's fully specified name for the same). Anything
// else, notably "none" and the HMAC family, is refused before a key is chosen.
const (
	AlgES256   = "ES256"
	AlgPS256   = "PS256"
	AlgEdDSA   = "EdDSA"
	AlgEd25519 = "Ed25519"
)

func allowedAlg(alg string) bool {
	switch alg {
	case AlgES256, AlgPS256, AlgEdDSA, AlgEd25519:
		return true
	}
	return false
}

// b64 is the strict base64url alphabet without padding (RFC 7515 §2): padding,
// whitespace, the standard alphabet and non-zero trailing bits are all refused.
var b64 = base64.RawURLEncoding.Strict()

func decodeSegment(s string) ([]byte, error) {
	if strings.ContainsAny(s, "=\r\n \t+/") {
		return nil, errors.New("segment is not unpadded base64url")
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, errors.New("segment is not base64url")
	}
	return b, nil
}

// jwsHeader is the protected header. Only alg, kid and typ are allowed: a
// header naming its own key (jwk, jku, x5u, x5c), critical extensions (crit),
// unencoded payloads (b64) or compression (zip) is refused, so no header can
// choose the key or change how the signature is checked.
type jwsHeader struct {
	Alg string
	Kid string
	Typ string
	// JWK is the embedded public key, accepted only where a profile makes
	// the signer's key part of the message (DPoP, RFC 9449 §4.2).
	JWK json.RawMessage
}

// jwsOptions relax the strict defaults for one profile of JWS.
type jwsOptions struct {
	maxLen   int  // 0: MaxAssertionLen
	allowJWK bool // accept (not require) a "jwk" header parameter
}

// compactJWS is a parsed, not yet verified, compact JWS.
type compactJWS struct {
	header       jwsHeader
	payload      []byte
	signingInput string
	signature    []byte
}

// parseCompactJWS parses a compact-serialization JWS (RFC 7515 §7.1) with
// strict base64url, a header allow-list and size limits. It does not verify
// the signature.
func parseCompactJWS(s string) (*compactJWS, error) { return parseCompactJWSOpts(s, jwsOptions{}) }

func parseCompactJWSOpts(s string, o jwsOptions) (*compactJWS, error) {
	limit := MaxAssertionLen
	if o.maxLen > 0 {
		limit = o.maxLen
	}
	if len(s) > limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformedJWS, len(s), limit)
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: %d segments, want 3 (compact JWS; JWE and JSON serialization are not accepted)", ErrMalformedJWS, len(parts))
	}
	if parts[0] == "" || parts[2] == "" {
		return nil, fmt.Errorf("%w: empty header or signature", ErrMalformedJWS)
	}
	hb, err := decodeSegment(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformedJWS, err)
	}
	if len(hb) > maxHeaderLen {
		return nil, fmt.Errorf("%w: header is %d bytes, limit %d", ErrMalformedJWS, len(hb), maxHeaderLen)
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformedJWS, err)
	}
	sig, err := decodeSegment(parts[2])
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrMalformedJWS, err)
	}
	fields, err := decodeObject(hb)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformedJWS, err)
	}
	var h jwsHeader
	for k, raw := range fields {
		var dst *string
		switch k {
		case "alg":
			dst = &h.Alg
		case "kid":
			dst = &h.Kid
		case "typ":
			dst = &h.Typ
		case "jwk":
			if !o.allowJWK {
				return nil, fmt.Errorf("%w: header parameter %q is not allowed", ErrMalformedJWS, k)
			}
			// A present jwk is an object: "jwk": null is not "no jwk".
			if len(raw) == 0 || raw[0] != '{' {
				return nil, fmt.Errorf("%w: header parameter \"jwk\" is not a JSON object", ErrMalformedJWS)
			}
			h.JWK = raw
			continue
		default:
			return nil, fmt.Errorf("%w: header parameter %q is not allowed", ErrMalformedJWS, truncate(k))
		}
		// A present member is a non-empty string: json.Unmarshal would take
		// null as "leave it empty", turning "kid": null into an absent kid
		// (and so into "the single key for the algorithm").
		if len(raw) == 0 || raw[0] != '"' {
			return nil, fmt.Errorf("%w: header parameter %q is not a string", ErrMalformedJWS, k)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return nil, fmt.Errorf("%w: header parameter %q is not a string", ErrMalformedJWS, k)
		}
		if *dst == "" {
			return nil, fmt.Errorf("%w: header parameter %q is empty", ErrMalformedJWS, k)
		}
	}
	if h.Alg == "" {
		return nil, fmt.Errorf("%w: header has no alg", ErrMalformedJWS)
	}
	if !allowedAlg(h.Alg) {
		return nil, fmt.Errorf("%w: %q", ErrAlgNotAllowed, truncate(h.Alg))
	}
	if len(h.Kid) > maxKidLen {
		return nil, fmt.Errorf("%w: kid is %d bytes, limit %d", ErrMalformedJWS, len(h.Kid), maxKidLen)
	}
	return &compactJWS{
		header:       h,
		payload:      payload,
		signingInput: s[:len(parts[0])+1+len(parts[1])],
		signature:    sig,
	}, nil
}

// truncate shortens attacker-supplied text quoted in an error.
func truncate(s string) string {
	const n = 32
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// decodeObject decodes one JSON object into its members, refusing invalid
// UTF-8, duplicate member names (which different parsers resolve differently),
// deep nesting and trailing data (ScanObject). The raw values alias b.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	if err := ScanObject(b, func(name string, raw []byte) error { out[name] = raw; return nil }); err != nil {
		return nil, err
	}
	return out, nil
}

// checkDepth refuses JSON nested deeper than max (strings are skipped).
func checkDepth(b []byte, max int) error {
	depth, inStr, esc := 0, false, false
	for _, c := range b {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				return fmt.Errorf("JSON nested deeper than %d", max)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// es256DER appends to dst the ASN.1 DER ECDSA-Sig-Value (SEQUENCE of two
// INTEGERs) of a JWS ES256 signature r||s (RFC 7518 §3.4: 32 bytes each),
// what ecdsa.Verify would build from big.Ints, without them. At most 72
// bytes, so every length fits the short form.
func es256DER(dst, sig []byte) []byte {
	integer := func(b []byte) []byte {
		for len(b) > 1 && b[0] == 0 {
			b = b[1:]
		}
		return b
	}
	r, s := integer(sig[:32]), integer(sig[32:64])
	rl, sl := len(r)+int(r[0]>>7), len(s)+int(s[0]>>7) // a set top bit needs a 0x00: INTEGERs are signed
	dst = append(dst, 0x30, byte(4+rl+sl), 0x02, byte(rl))
	if rl > len(r) {
		dst = append(dst, 0)
	}
	dst = append(dst, r...)
	dst = append(dst, 0x02, byte(sl))
	if sl > len(s) {
		dst = append(dst, 0)
	}
	return append(dst, s...)
}

// verifySignature checks sig over input with key under alg. The key's type
// must match the algorithm; a mismatch is ErrKeyAlgMismatch, never a
// fallback.
func verifySignature(alg string, key *JWK, input string, sig []byte) error {
	switch alg {
	case AlgES256:
		pub, ok := key.pub.(*ecdsa.PublicKey)
		if !ok {
			return ErrKeyAlgMismatch
		}
		if len(sig) != 64 {
			return fmt.Errorf("%w: ES256 signature is %d bytes, want 64", ErrBadSignature, len(sig))
		}
		d := sha256.Sum256([]byte(input))
		var der [72]byte
		if !ecdsa.VerifyASN1(pub, d[:], es256DER(der[:0], sig)) {
			return ErrBadSignature
		}
		return nil
	case AlgPS256:
		pub, ok := key.pub.(*rsa.PublicKey)
		if !ok {
			return ErrKeyAlgMismatch
		}
		d := sha256.Sum256([]byte(input))
		// RFC 7518 §3.5: MGF1 with SHA-256, salt as long as the hash.
		if err := rsa.VerifyPSS(pub, crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}); err != nil {
			return ErrBadSignature
		}
		return nil
	case AlgEdDSA, AlgEd25519:
		pub, ok := key.pub.(ed25519.PublicKey)
		if !ok {
			return ErrKeyAlgMismatch
		}
		if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, []byte(input), sig) {
			return ErrBadSignature
		}
		return nil
	}
	return ErrAlgNotAllowed
}
