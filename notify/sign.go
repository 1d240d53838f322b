package notify

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/internal/keyfile"
)

// Signature parameters of every webhook.
const (
	SignatureLabel = "madoguchi"
	SignatureTag   = "madoguchi-webhook"
	SignatureAlg   = "ed25519"
)

// CoveredComponents are the components every webhook signature covers, in
// this order.
var CoveredComponents = []string{"@method", "@target-uri", "content-digest", "content-type", "webhook-id"}

// Signer signs webhook requests with Ed25519 (RFC 9421 §3.3.6). Its public
// key is published as a JWK Set; the key id is the RFC 7638 thumbprint.
type Signer struct {
	key ed25519.PrivateKey
	kid string
}

// LogValue keeps the key out of logs.
func (s *Signer) LogValue() slog.Value { return slog.StringValue("notify.Signer(" + s.kid + ")") }

// ErrKeyFileMode: the key file is readable by group or others.
var ErrKeyFileMode = errors.New("notify: signing key file permissions too open (want 0600)")

// NewSigner wraps an Ed25519 private key.
func NewSigner(k ed25519.PrivateKey) (*Signer, error) {
	if len(k) != ed25519.PrivateKeySize {
		return nil, errors.New("notify: webhook signing key must be Ed25519")
	}
	pub := k.Public().(ed25519.PublicKey)
	return &Signer{key: k, kid: Thumbprint(pub)}, nil
}

// Thumbprint is the RFC 7638 JWK thumbprint of an Ed25519 public key
// (base64url SHA-256 of {"crv":"Ed25519","kty":"OKP","x":…}).
func Thumbprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// KeyID is the key id sent in keyid and published in the JWK Set.
func (s *Signer) KeyID() string { return s.kid }

// JWKS is the JWK Set with the verification key.
func (s *Signer) JWKS() []byte {
	b, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(s.key.Public().(ed25519.PublicKey)),
		"kid": s.kid, "alg": "EdDSA", "use": "sig",
	}}})
	return b
}

// LoadSigner reads a PEM PKCS#8 "PRIVATE KEY" (Ed25519) file that must be
// a regular file not readable or writable by group or others, at most
// keyfile.MaxPEMSize bytes. A missing file is fs.ErrNotExist.
func LoadSigner(path string) (*Signer, error) {
	k, err := keyfile.LoadPrivateKey[ed25519.PrivateKey](path)
	if err != nil {
		return nil, signerKeyErr(err)
	}
	return NewSigner(k)
}

// LoadOrCreateDevSigner loads the key at path, creating it (0600, folder
// 0700) first if it does not exist: development servers only. Of several
// processes starting at once, one creates the key and all use it.
func LoadOrCreateDevSigner(path string) (*Signer, bool, error) {
	k, created, err := keyfile.LoadOrCreatePrivateKey(path, func() (ed25519.PrivateKey, error) {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	})
	if err != nil {
		return nil, false, signerKeyErr(err)
	}
	s, err := NewSigner(k)
	return s, created && err == nil, err
}

// signerKeyErr prefixes a key file error; a mode error is ErrKeyFileMode.
func signerKeyErr(err error) error {
	if errors.Is(err, keyfile.ErrMode) {
		return fmt.Errorf("%w: %w", ErrKeyFileMode, err)
	}
	return fmt.Errorf("notify: webhook signing key: %w", err)
}

// ContentDigest is the RFC 9530 Content-Digest field value for body.
func ContentDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
}

// Sign sets Content-Digest, Signature-Input and Signature on req (whose
// Content-Type and Webhook-Id are set) for body, created at now.
func (s *Signer) Sign(req *http.Request, body []byte, now time.Time) error {
	req.Header.Set("Content-Digest", ContentDigest(body))
	params := signatureParams(CoveredComponents, now.Unix(), s.kid, SignatureAlg, SignatureTag)
	base, err := signatureBase(req, CoveredComponents, params)
	if err != nil {
		return err
	}
	sig := ed25519.Sign(s.key, []byte(base))
	req.Header.Set("Signature-Input", SignatureLabel+"="+params)
	req.Header.Set("Signature", SignatureLabel+"=:"+base64.StdEncoding.EncodeToString(sig)+":")
	return nil
}

// signatureParams serialises the @signature-params inner list.
func signatureParams(components []string, created int64, keyid, alg, tag string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, c := range components {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Quote(c))
	}
	b.WriteString(");created=" + strconv.FormatInt(created, 10))
	b.WriteString(";keyid=" + strconv.Quote(keyid))
	b.WriteString(";alg=" + strconv.Quote(alg))
	b.WriteString(";tag=" + strconv.Quote(tag))
	return b.String()
}

// signatureBase builds the RFC 9421 §2.5 signature base for a request.
// params is the serialised @signature-params value.
func signatureBase(req *http.Request, components []string, params string) (string, error) {
	var b strings.Builder
	for _, c := range components {
		v, err := componentValue(req, c)
		if err != nil {
			return "", err
		}
		b.WriteString(strconv.Quote(c))
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteByte('\n')
	}
	b.WriteString(`"@signature-params": `)
	b.WriteString(params)
	return b.String(), nil
}

// ErrComponent: a covered component is missing from the message or not
// supported.
var ErrComponent = errors.New("notify: signature component missing or unsupported")

func componentValue(req *http.Request, name string) (string, error) {
	u := req.URL
	switch name {
	case "@method":
		return req.Method, nil
	case "@target-uri":
		return targetURI(req), nil
	case "@authority":
		h := req.Host
		if h == "" {
			h = u.Host
		}
		return strings.ToLower(h), nil
	case "@scheme":
		return strings.ToLower(scheme(req)), nil
	case "@path":
		p := u.EscapedPath()
		if p == "" {
			p = "/"
		}
		return p, nil
	case "@query":
		return "?" + u.RawQuery, nil
	case "@request-target":
		return u.RequestURI(), nil
	}
	if strings.HasPrefix(name, "@") || name != strings.ToLower(name) || name == "" {
		return "", fmt.Errorf("%w: %q", ErrComponent, name)
	}
	vals := req.Header.Values(name)
	if name == "host" && len(vals) == 0 && req.Host != "" {
		vals = []string{req.Host}
	}
	if len(vals) == 0 {
		return "", fmt.Errorf("%w: header %q", ErrComponent, name)
	}
	for i := range vals {
		vals[i] = strings.TrimSpace(vals[i])
	}
	return strings.Join(vals, ", "), nil
}

func scheme(req *http.Request) string {
	if req.URL.Scheme != "" {
		return req.URL.Scheme
	}
	if req.TLS != nil {
		return "https"
	}
	return "http"
}

// targetURI is the request's absolute target URI as the receiver will
// rebuild it: scheme, authority and the request target actually sent. A
// client request carries its URL whole, but the request line of a URL with
// an empty path is "/" (RFC 9110 §4.2.1), so both sides are built from
// RequestURI; the fragment and any user information are never sent.
func targetURI(req *http.Request) string {
	if req.URL.IsAbs() {
		return req.URL.Scheme + "://" + req.URL.Host + req.URL.RequestURI()
	}
	return scheme(req) + "://" + req.Host + req.URL.RequestURI()
}
