package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/tenant"
)

// authzRequest is a validated authorization request, as pushed (PAR) and
// later shown to the customer.
type authzRequest struct {
	ClientID      string   `json:"client_id"`
	RedirectURI   string   `json:"redirect_uri"`
	Scopes        []string `json:"scopes"`
	State         string   `json:"state,omitempty"`
	Nonce         string   `json:"nonce,omitempty"`
	CodeChallenge string   `json:"code_challenge"`
	ResponseMode  string   `json:"response_mode"` // query or jwt
	DPoPJKT       string   `json:"dpop_jkt,omitempty"`
	Details       []Detail `json:"authorization_details,omitempty"`
	ACRValues     []string `json:"acr_values,omitempty"`
	// Signed is true when the request came as a verified request object.
	Signed bool `json:"signed,omitempty"`
}

// Limits on authorization-request parameters.
const (
	MaxRequestObjectLen = 16 << 10
	maxStateLen         = 512
	maxNonceLen         = 255
	maxScopes           = 16
)

var (
	pkceChallengeRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	jktRE           = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	scopeRE         = regexp.MustCompile(`^[a-z][a-z0-9:._-]{0,63}$`)
)

// params reads request parameters from a form or from a request object's
// claims. get answers the value and whether it was present.
type params interface {
	get(name string) (string, bool, error)
	names() []string
}

type formParams url.Values

func (f formParams) get(name string) (string, bool, error) {
	v := url.Values(f)[name]
	switch {
	case len(v) == 0:
		return "", false, nil
	case len(v) > 1:
		return "", false, fmt.Errorf("%s given more than once", name)
	}
	return v[0], true, nil
}

func (f formParams) names() []string {
	var out []string
	for k := range f {
		out = append(out, k)
	}
	return out
}

type claimParams map[string]json.RawMessage

func (c claimParams) get(name string) (string, bool, error) {
	raw, ok := c[name]
	if !ok {
		return "", false, nil
	}
	if name == "authorization_details" && len(raw) > 0 && raw[0] == '[' {
		return string(raw), true, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, fmt.Errorf("%s must be a string", name)
	}
	return s, true, nil
}

func (c claimParams) names() []string {
	var out []string
	for k := range c {
		out = append(out, k)
	}
	return out
}

// authParams are the parameters that authenticate the client; they may sit
// beside a request object in the form.
var authParams = []string{"client_id", "client_assertion", "client_assertion_type", "request"}

// parseAuthzRequest validates the parameters of a pushed authorization
// request for client c with profile p (FAPI 2.0 §5.3.1.2).
func parseAuthzRequest(ps params, c tenant.Client, p Profile) (*authzRequest, *Error) {
	r := &authzRequest{ClientID: c.ID}
	get := func(name string, max int, required bool) (string, *Error) {
		v, ok, err := ps.get(name)
		if err != nil {
			return "", invalidRequest(err.Error(), nil)
		}
		if !ok && required {
			return "", invalidRequest(name+" is required.", nil)
		}
		if len(v) > max {
			return "", invalidRequest(fmt.Sprintf("%s is longer than %d bytes.", name, max), nil)
		}
		return v, nil
	}
	if _, ok, _ := ps.get("request_uri"); ok {
		return nil, invalidRequest("request_uri is not accepted at the PAR endpoint.", nil)
	}
	rt, e := get("response_type", 32, true)
	if e != nil {
		return nil, e
	}
	if rt != "code" {
		return nil, oerr(400, "unsupported_response_type", "Only response_type=code is supported.", nil)
	}
	if cid, e := get("client_id", 128, false); e != nil {
		return nil, e
	} else if cid != "" && cid != c.ID {
		return nil, invalidRequest("client_id does not match the authenticated client.", nil)
	}
	if r.RedirectURI, e = get("redirect_uri", maxRedirectURILen, true); e != nil {
		return nil, e
	}
	if !slices.Contains(p.RedirectURIs, r.RedirectURI) {
		return nil, invalidRequest("redirect_uri is not registered for this client.", nil)
	}
	m, e := get("code_challenge_method", 16, true)
	if e != nil {
		return nil, e
	}
	if m != "S256" {
		return nil, invalidRequest("code_challenge_method must be S256.", nil)
	}
	if r.CodeChallenge, e = get("code_challenge", 64, true); e != nil {
		return nil, e
	}
	if !pkceChallengeRE.MatchString(r.CodeChallenge) {
		return nil, invalidRequest("code_challenge must be a base64url SHA-256 (43 characters).", nil)
	}
	if r.State, e = get("state", maxStateLen, false); e != nil {
		return nil, e
	}
	if r.Nonce, e = get("nonce", maxNonceLen, false); e != nil {
		return nil, e
	}
	rm, e := get("response_mode", 16, false)
	if e != nil {
		return nil, e
	}
	switch rm {
	case "", "query":
		r.ResponseMode = "query"
	case "jwt", "query.jwt":
		r.ResponseMode = "jwt"
	default:
		return nil, invalidRequest("response_mode must be query, jwt or query.jwt.", nil)
	}
	if r.DPoPJKT, e = get("dpop_jkt", 64, false); e != nil {
		return nil, e
	}
	if r.DPoPJKT != "" && !jktRE.MatchString(r.DPoPJKT) {
		return nil, invalidRequest("dpop_jkt must be a JWK SHA-256 thumbprint.", nil)
	}
	scope, e := get("scope", 1024, false)
	if e != nil {
		return nil, e
	}
	if r.Scopes, e = checkScopes(scope, c); e != nil {
		return nil, e
	}
	ad, e := get("authorization_details", MaxDetailsLen, false)
	if e != nil {
		return nil, e
	}
	if ad != "" {
		ds, err := ParseDetails(ad, p.RARTypes)
		if err != nil {
			return nil, oerr(400, "invalid_authorization_details", "authorization_details is invalid or not allowed for this client.", err)
		}
		r.Details = ds
	}
	if len(r.Scopes) == 0 && len(r.Details) == 0 {
		return nil, oerr(400, "invalid_scope", "Request a scope or authorization_details.", nil)
	}
	acr, e := get("acr_values", 256, false)
	if e != nil {
		return nil, e
	}
	r.ACRValues = strings.Fields(acr)
	return r, nil
}

// CustomerScopes are the scopes a grant acting for a customer may carry
// besides openid, and only if the client is registered with them (least
// privilege). A client's own scopes (ekyc:sessions, audit:read, ...) never
// reach a customer token.
var CustomerScopes = []string{"accounts:read", "transfers:write"}

// checkScopes: space-separated, each well-formed, openid or a customer
// scope the client is registered with.
func checkScopes(scope string, c tenant.Client) ([]string, *Error) {
	if scope == "" {
		return nil, nil
	}
	out := strings.Split(scope, " ")
	if len(out) > maxScopes {
		return nil, oerr(400, "invalid_scope", "Too many scopes.", nil)
	}
	for _, s := range out {
		if !scopeRE.MatchString(s) {
			return nil, oerr(400, "invalid_scope", "A scope is malformed.", nil)
		}
		if s != "openid" && (!slices.Contains(CustomerScopes, s) || !slices.Contains(c.Scopes, s)) {
			return nil, oerr(400, "invalid_scope", "A requested scope is not granted to this client.", nil)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// verifyRequestObject checks a JAR request object (RFC 9101; FAPI 2.0
// Message Signing §5.3): signed by the client's registered key with an
// allowed algorithm, typ oauth-authz-req+jwt (or none), iss and client_id
// the client, aud this issuer, nbf no more than 60 minutes ago and not in
// the future, exp after now and at most 60 minutes after nbf, jti used once.
func (s *Server) verifyRequestObject(ctx context.Context, raw string, c tenant.Client) (claimParams, *Error) {
	bad := func(why string, cause error) *Error {
		return oerr(400, "invalid_request_object", "The request object is invalid: "+why+".", fmt.Errorf("%w: %w", ErrRequestObject, cause))
	}
	if c.Keys == nil {
		return nil, bad("this client has no registered keys", nil)
	}
	j, err := tenant.ParseJWS(raw, MaxRequestObjectLen)
	if err != nil {
		return nil, bad("malformed or disallowed algorithm", err)
	}
	switch strings.ToLower(j.Typ()) {
	case "", "jwt", "oauth-authz-req+jwt":
	default:
		return nil, bad("typ must be oauth-authz-req+jwt", nil)
	}
	if err := c.Keys.Verify(j); err != nil {
		return nil, bad("signature does not verify", err)
	}
	m, err := tenant.DecodeObject(j.Payload())
	if err != nil {
		return nil, bad("claims are not a JSON object", err)
	}
	cp := claimParams(m)
	if v, _, _ := cp.get("iss"); v != c.ID {
		return nil, bad("iss must be the client id", nil)
	}
	if v, ok, _ := cp.get("client_id"); ok && v != c.ID {
		return nil, bad("client_id must be the client id", nil)
	}
	if !audienceIs(m["aud"], s.issuer) {
		return nil, bad("aud must be this issuer", nil)
	}
	now := s.now().Unix()
	num := func(name string) (int64, bool) {
		raw, ok := m[name]
		if !ok {
			return 0, false
		}
		v, err := strconv.ParseInt(string(raw), 10, 64)
		return v, err == nil
	}
	exp, ok1 := num("exp")
	nbf, ok2 := num("nbf")
	sk := int64(Skew / time.Second)
	switch {
	case !ok1 || !ok2:
		return nil, bad("exp and nbf are required integers", nil)
	case exp <= now-sk:
		return nil, bad("expired", ErrExpired)
	case nbf > now+sk:
		return nil, bad("nbf is in the future", nil)
	case nbf < now-3600:
		return nil, bad("nbf is more than 60 minutes ago", nil)
	case exp-nbf > 3600:
		return nil, bad("exp is more than 60 minutes after nbf", nil)
	}
	if iat, ok := num("iat"); ok && iat > now+sk {
		return nil, bad("iat is in the future", nil)
	}
	jti, ok, _ := cp.get("jti")
	if !ok || jti == "" || len(jti) > maxJTI {
		return nil, bad("jti is required", nil)
	}
	if err := s.spendShared(ctx, "jar:"+c.ID, jti, time.Unix(exp, 0).Add(Skew)); err != nil {
		return nil, bad("replayed", err)
	}
	delete(cp, "iss")
	delete(cp, "aud")
	delete(cp, "exp")
	delete(cp, "nbf")
	delete(cp, "iat")
	delete(cp, "jti")
	return cp, nil
}

func audienceIs(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return len(many) == 1 && many[0] == want
	}
	return false
}

func hashOf(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}
