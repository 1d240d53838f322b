package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiClient is the client side of Madoguchi's API, used by the developer
// tools (and the end-to-end tests): it authenticates with a private_key_jwt
// client assertion (RFC 7523) and calls the API with the access token.
type apiClient struct {
	base     string // server URL, no trailing slash
	audience string // the server's issuer identifier (its public URL)
	clientID string
	kid      string
	key      crypto.Signer // *ecdsa.PrivateKey (P-256) or ed25519.PrivateKey
	http     *http.Client
	token    string
	expires  time.Time
}

// assertion returns a fresh signed client assertion.
func (c *apiClient) assertion(now time.Time) (string, error) {
	var alg string
	switch k := c.key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve.Params().BitSize != 256 {
			return "", errors.New("client key: only P-256 ECDSA keys (ES256)")
		}
		alg = "ES256"
	case ed25519.PrivateKey:
		alg = "EdDSA"
	default:
		return "", fmt.Errorf("client key: unsupported %T", c.key)
	}
	hdr, _ := json.Marshal(map[string]string{"alg": alg, "kid": c.kid, "typ": "JWT"})
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	claims, _ := json.Marshal(map[string]any{
		"iss": c.clientID, "sub": c.clientID, "aud": c.audience,
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]),
	})
	input := b64(hdr) + "." + b64(claims)
	sig, err := signJWS(c.key, []byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + b64(sig), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func signJWS(key crypto.Signer, input []byte) ([]byte, error) {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(k, input), nil
	case *ecdsa.PrivateKey:
		h := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
		if err != nil {
			return nil, err
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out, nil
	}
	return nil, fmt.Errorf("unsupported key %T", key)
}

// publicJWKS returns the JWKS to register for the client's key.
func publicJWKS(kid string, key crypto.Signer) (string, error) {
	var jwk map[string]string
	switch k := key.(type) {
	case ed25519.PrivateKey:
		jwk = map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(k.Public().(ed25519.PublicKey))}
	case *ecdsa.PrivateKey:
		pad := func(n *big.Int) string { b := make([]byte, 32); n.FillBytes(b); return b64(b) }
		jwk = map[string]string{"kty": "EC", "crv": "P-256", "x": pad(k.X), "y": pad(k.Y)}
	default:
		return "", fmt.Errorf("unsupported key %T", key)
	}
	jwk["kid"] = kid
	jwk["use"] = "sig"
	b, err := json.Marshal(map[string]any{"keys": []any{jwk}})
	return string(b), err
}

// fetchToken obtains an access token with a client assertion.
func (c *apiClient) fetchToken(ctx context.Context) error {
	a, err := c.assertion(time.Now())
	if err != nil {
		return err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {a},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := c.do(req, &tr); err != nil {
		return fmt.Errorf("token: %w", err)
	}
	c.token = tr.AccessToken
	c.expires = time.Now().Add(time.Duration(tr.ExpiresIn)*time.Second - 30*time.Second)
	return nil
}

// apiError is a problem+json answer, or an RFC 6749 error from the token
// endpoint.
type apiError struct {
	Status      int
	Type        string `json:"type"`
	Title       string `json:"title"`
	Detail      string `json:"detail"`
	OAuthError  string `json:"error"`
	Description string `json:"error_description"`
}

func (e *apiError) Error() string {
	if e.Title == "" && e.OAuthError != "" {
		return fmt.Sprintf("%d %s: %s", e.Status, e.OAuthError, e.Description)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Title, e.Detail)
}

// call sends a JSON request with the access token (fetching one if needed)
// and decodes a JSON answer into out.
func (c *apiClient) call(ctx context.Context, method, path string, body any, out any) error {
	if c.token == "" || time.Now().After(c.expires) {
		if err := c.fetchToken(ctx); err != nil {
			return err
		}
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	return c.do(req, out)
}

func (c *apiClient) do(req *http.Request, out any) error {
	hc := c.http
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{Status: resp.StatusCode}
		_ = json.Unmarshal(b, e)
		return e
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}
