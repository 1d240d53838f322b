package notify

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Verification errors (test with errors.Is).
var (
	ErrNoSignature = errors.New("notify: no webhook signature")
	ErrDigest      = errors.New("notify: Content-Digest does not match the body")
	ErrSignature   = errors.New("notify: signature does not verify")
	ErrStale       = errors.New("notify: signature too old or from the future")
	ErrUnknownKey  = errors.New("notify: unknown key id")
	ErrMalformed   = errors.New("notify: malformed signature field")
)

// MaxFieldLen bounds the Signature-Input, Signature and Content-Digest
// fields a verifier parses.
const MaxFieldLen = 8 << 10

// KeySet maps key ids to Ed25519 public keys.
type KeySet map[string]ed25519.PublicKey

// ParseJWKS reads the Ed25519 keys of a JWK Set (as published at
// /.well-known/webhook-keys.json).
func ParseJWKS(b []byte) (KeySet, error) {
	var set struct {
		Keys []struct{ Kty, Crv, X, Kid string }
	}
	if len(b) > 64<<10 || json.Unmarshal(b, &set) != nil {
		return nil, fmt.Errorf("%w: JWK Set does not decode", ErrMalformed)
	}
	ks := KeySet{}
	for _, k := range set.Keys {
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if k.Kty != "OKP" || k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			continue
		}
		kid := k.Kid
		if kid == "" {
			kid = Thumbprint(x)
		}
		ks[kid] = ed25519.PublicKey(x)
	}
	if len(ks) == 0 {
		return nil, fmt.Errorf("%w: no Ed25519 key in the JWK Set", ErrMalformed)
	}
	return ks, nil
}

// VerifyOptions shape Verify.
type VerifyOptions struct {
	Now    time.Time     // default time.Now
	MaxAge time.Duration // default 5 minutes; the skew allowed into the future is 1 minute
	// TargetURI overrides the request's reconstructed target URI (a
	// receiver behind a proxy that terminates TLS or rewrites the host
	// passes the URL it registered).
	TargetURI string
	// Required lists the components the signature must cover (default
	// CoveredComponents); Tag the tag it must carry (default SignatureTag).
	Required []string
	Tag      string
}

// Verify checks a received webhook: the Content-Digest against body, then
// the RFC 9421 signature labelled with our tag, which must cover the
// required components, use alg ed25519 (if stated), a known key id, and be
// created within MaxAge. It returns the key id that verified.
func Verify(req *http.Request, body []byte, keys KeySet, o VerifyOptions) (string, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 5 * time.Minute
	}
	if o.Required == nil {
		o.Required = CoveredComponents
	}
	if o.Tag == "" {
		o.Tag = SignatureTag
	}
	in, sigs := req.Header.Values("Signature-Input"), req.Header.Values("Signature")
	if len(in) == 0 || len(sigs) == 0 {
		return "", ErrNoSignature
	}
	if err := CheckContentDigest(req.Header.Values("Content-Digest"), body); err != nil {
		return "", err
	}
	inputs, err := ParseDictionary(strings.Join(in, ", "))
	if err != nil {
		return "", err
	}
	sigDict, err := ParseDictionary(strings.Join(sigs, ", "))
	if err != nil {
		return "", err
	}
	var lastErr error = fmt.Errorf("%w: none tagged %q", ErrNoSignature, o.Tag)
	for _, m := range inputs {
		if m.Value.List == nil || m.Value.Params.String("tag") != o.Tag {
			continue
		}
		kid, err := verifyOne(req, m, sigDict, keys, o)
		if err == nil {
			return kid, nil
		}
		lastErr = err
	}
	return "", lastErr
}

func verifyOne(req *http.Request, m Member, sigDict []Member, keys KeySet, o VerifyOptions) (string, error) {
	p := m.Value.Params
	var components []string
	for _, it := range m.Value.List {
		if it.Kind != KindString || len(it.Params) != 0 {
			return "", fmt.Errorf("%w: component parameters are not supported", ErrMalformed)
		}
		components = append(components, it.Str)
	}
	for _, r := range o.Required {
		found := false
		for _, c := range components {
			found = found || c == r
		}
		if !found {
			return "", fmt.Errorf("%w: the signature does not cover %q", ErrSignature, r)
		}
	}
	if alg, ok := p.Get("alg"); ok && (alg.Kind != KindString || alg.Str != SignatureAlg) {
		return "", fmt.Errorf("%w: alg %v", ErrSignature, alg)
	}
	created, ok := p.Get("created")
	if !ok || created.Kind != KindInteger {
		return "", fmt.Errorf("%w: no created time", ErrStale)
	}
	at := time.Unix(created.Int, 0)
	if at.After(o.Now.Add(time.Minute)) || o.Now.Sub(at) > o.MaxAge {
		return "", fmt.Errorf("%w: created %s", ErrStale, at.UTC().Format(time.RFC3339))
	}
	if exp, ok := p.Get("expires"); ok && (exp.Kind != KindInteger || o.Now.After(time.Unix(exp.Int, 0))) {
		return "", fmt.Errorf("%w: expired", ErrStale)
	}
	kid := p.String("keyid")
	key, ok := keys[kid]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	}
	var sig []byte
	for _, s := range sigDict {
		if s.Key == m.Key && s.Value.List == nil && s.Value.Item.Kind == KindBytes {
			sig = s.Value.Item.Bytes
		}
	}
	if sig == nil {
		return "", fmt.Errorf("%w: no Signature for label %q", ErrNoSignature, m.Key)
	}
	r := req
	if o.TargetURI != "" {
		r = req.Clone(req.Context())
		u, err := r.URL.Parse(o.TargetURI)
		if err != nil {
			return "", err
		}
		r.URL, r.Host = u, u.Host
	}
	base, err := signatureBase(r, components, m.Value.Raw)
	if err != nil {
		return "", err
	}
	if !ed25519.Verify(key, []byte(base), sig) {
		return "", ErrSignature
	}
	return kid, nil
}

// CheckContentDigest checks RFC 9530 Content-Digest field values against
// body: a sha-256 (or sha-512) member must be present and every supported
// member must match.
func CheckContentDigest(fields []string, body []byte) error {
	if len(fields) == 0 {
		return fmt.Errorf("%w: no Content-Digest", ErrDigest)
	}
	d, err := ParseDictionary(strings.Join(fields, ", "))
	if err != nil {
		return err
	}
	checked := 0
	for _, m := range d {
		if m.Value.List != nil || m.Value.Item.Kind != KindBytes {
			return fmt.Errorf("%w: member %q is not a byte sequence", ErrMalformed, m.Key)
		}
		var want []byte
		switch m.Key {
		case "sha-256":
			s := sha256.Sum256(body)
			want = s[:]
		case "sha-512":
			s := sha512Sum(body)
			want = s[:]
		default:
			continue
		}
		if subtle.ConstantTimeCompare(want, m.Value.Item.Bytes) != 1 {
			return ErrDigest
		}
		checked++
	}
	if checked == 0 {
		return fmt.Errorf("%w: no sha-256 or sha-512 member", ErrDigest)
	}
	return nil
}
