package ekyc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"

	"github.com/madoguchi/madoguchi/internal/keyfile"
)

// Signer signs results as compact JWS with ES256 (ECDSA P-256, SHA-256).
// Its public key is published as a JWK Set with an RFC 7638 thumbprint as
// the key id.
type Signer struct {
	key *ecdsa.PrivateKey
	kid string
}

// ErrKeyFileMode: the signing key file is readable by group or others.
var ErrKeyFileMode = errors.New("ekyc: signing key file permissions too open (want 0600)")

// NewSigner wraps a P-256 private key.
func NewSigner(k *ecdsa.PrivateKey) (*Signer, error) {
	if k == nil || k.Curve != elliptic.P256() {
		return nil, errors.New("ekyc: result signing key must be ECDSA P-256")
	}
	return &Signer{key: k, kid: thumbprint(&k.PublicKey)}, nil
}

// LoadSigner reads a PEM "EC PRIVATE KEY" (or PKCS#8 "PRIVATE KEY") file that
// must be a regular file not readable or writable by group or others, at
// most keyfile.MaxPEMSize bytes. A missing file is fs.ErrNotExist:
// production refuses to start without a provisioned key.
func LoadSigner(path string) (*Signer, error) {
	k, err := keyfile.LoadPrivateKey[*ecdsa.PrivateKey](path)
	if err != nil {
		return nil, signerKeyErr(err)
	}
	return NewSigner(k)
}

// LoadOrCreateDevSigner loads path, or creates a fresh P-256 key there
// (0600, folder 0700) on first start; created reports a new development key
// the server must warn about. Of several processes starting at once, one
// creates the key and all use it.
func LoadOrCreateDevSigner(path string) (s *Signer, created bool, err error) {
	k, created, err := keyfile.LoadOrCreatePrivateKey(path, func() (*ecdsa.PrivateKey, error) {
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
	if err != nil {
		return nil, false, signerKeyErr(err)
	}
	s, err = NewSigner(k)
	return s, created && err == nil, err
}

// signerKeyErr prefixes a key file error; a mode error is ErrKeyFileMode.
func signerKeyErr(err error) error {
	if errors.Is(err, keyfile.ErrMode) {
		return fmt.Errorf("%w: %w", ErrKeyFileMode, err)
	}
	return fmt.Errorf("ekyc: result signing key: %w", err)
}

// KeyID returns the key's RFC 7638 thumbprint.
func (s *Signer) KeyID() string { return s.kid }

// LogValue shows only the key id.
func (s *Signer) LogValue() slog.Value { return slog.StringValue("es256:" + s.kid) }

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

// coords returns the base64url x and y of a P-256 public key.
func coords(pub *ecdsa.PublicKey) (x, y string) {
	b, err := pub.Bytes() // 0x04 || X (32) || Y (32)
	if err != nil || len(b) != 65 {
		return "", ""
	}
	return base64.RawURLEncoding.EncodeToString(b[1:33]), base64.RawURLEncoding.EncodeToString(b[33:])
}

func thumbprint(pub *ecdsa.PublicKey) string {
	// RFC 7638: the required members in lexicographic order, no spaces.
	x, y := coords(pub)
	j := `{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`
	h := sha256.Sum256([]byte(j))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// JWKS returns {"keys":[...]} with the public key.
func (s *Signer) JWKS() []byte {
	x, y := coords(&s.key.PublicKey)
	b, _ := json.Marshal(map[string][]jwk{"keys": {{
		Kty: "EC", Crv: "P-256", X: x, Y: y, Kid: s.kid, Use: "sig", Alg: "ES256",
	}}})
	return b
}

// ResultType is the JWS "typ" of signed results.
const ResultType = "madoguchi-ekyc-result+jwt"

// Sign returns the compact JWS of payload.
func (s *Signer) Sign(payload []byte) (string, error) { return s.SignTyped(ResultType, payload) }

// SignTyped returns the compact JWS of payload with the JWS "typ" typ, so
// that other domains (package txauth) sign their results with the key set
// published at /.well-known/jwks.json while a receiver can never take one
// kind of result for another (explicit typing, RFC 8725 section 3.11).
func (s *Signer) SignTyped(typ string, payload []byte) (string, error) {
	hdr, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": s.kid, "typ": typ})
	in := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(payload)
	h := sha256.Sum256([]byte(in))
	r, ss, err := ecdsa.Sign(rand.Reader, s.key, h[:])
	if err != nil {
		return "", err
	}
	sig := append(r.FillBytes(make([]byte, 32)), ss.FillBytes(make([]byte, 32))...)
	return in + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// MaxResultJWS bounds a result a receiver accepts.
const MaxResultJWS = 256 << 10

// VerifyResult checks a compact JWS result against a JWK Set (as published
// at /.well-known/jwks.json) and returns its payload. Only ES256 with a
// P-256 key named by kid and typ ResultType is accepted; "none", HMAC and
// any other algorithm are refused. Receivers (tenants, the dev kit) use it.
func VerifyResult(jws string, jwks []byte) ([]byte, error) { return VerifyTyped(jws, jwks, ResultType) }

// VerifyTyped is VerifyResult for a JWS whose "typ" must be typ.
func VerifyTyped(jws string, jwks []byte, typ string) ([]byte, error) {
	if len(jws) > MaxResultJWS {
		return nil, fmt.Errorf("%w: too large", ErrSignature)
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrSignature)
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header encoding", ErrSignature)
	}
	var hdr map[string]any
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, fmt.Errorf("%w: header", ErrSignature)
	}
	if hdr["alg"] != "ES256" || hdr["typ"] != typ {
		return nil, fmt.Errorf("%w: alg must be ES256 and typ %s", ErrSignature, typ)
	}
	if _, crit := hdr["crit"]; crit {
		return nil, fmt.Errorf("%w: crit is not supported", ErrSignature)
	}
	kid, _ := hdr["kid"].(string)
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, fmt.Errorf("%w: JWK set unreadable", ErrSignature)
	}
	var pub *ecdsa.PublicKey
	for _, k := range set.Keys {
		if k.Kid != kid || k.Kty != "EC" || k.Crv != "P-256" || (k.Alg != "" && k.Alg != "ES256") {
			continue
		}
		x, err1 := base64.RawURLEncoding.DecodeString(k.X)
		y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			continue
		}
		raw := append([]byte{4}, append(x, y...)...)
		p, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		if err != nil {
			continue
		}
		pub = p
	}
	if pub == nil {
		return nil, fmt.Errorf("%w: no ES256 key with this kid", ErrSignature)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, fmt.Errorf("%w: signature encoding", ErrSignature)
	}
	h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, h[:], r, s) {
		return nil, ErrSignature
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload encoding", ErrSignature)
	}
	return payload, nil
}
