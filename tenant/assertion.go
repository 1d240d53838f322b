package tenant

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ClientAssertionType is the only accepted client_assertion_type (RFC 7523 §2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Client-assertion policy.
const (
	// MaxAssertionLifetime bounds exp - iat.
	MaxAssertionLifetime = 5 * time.Minute
	maxJTILen            = 256
	maxClaimStringLen    = 512
)

// assertionClaims are the registered claims of a client assertion.
type assertionClaims struct {
	iss, sub, jti string
	aud           []string
	exp, iat, nbf int64
	hasNbf        bool
}

// parseAssertionClaims decodes the claims set strictly: duplicate members,
// wrong types and non-integer NumericDates are refused. Unregistered claims
// are ignored.
func parseAssertionClaims(payload []byte) (assertionClaims, error) {
	var c assertionClaims
	m, err := decodeObject(payload)
	if err != nil {
		return c, fmt.Errorf("%w: claims: %v", ErrMalformedJWS, err)
	}
	str := func(name string, dst *string) error {
		raw, ok := m[name]
		if !ok {
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil || len(*dst) > maxClaimStringLen {
			return fmt.Errorf("%w: %s must be a string of at most %d bytes", ErrClaims, name, maxClaimStringLen)
		}
		return nil
	}
	num := func(name string, dst *int64) (bool, error) {
		raw, ok := m[name]
		if !ok {
			return false, nil
		}
		v, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil || v < 0 || v > 1<<40 {
			return false, fmt.Errorf("%w: %s must be an integer NumericDate", ErrClaims, name)
		}
		*dst = v
		return true, nil
	}
	for _, f := range []struct {
		n string
		d *string
	}{{"iss", &c.iss}, {"sub", &c.sub}, {"jti", &c.jti}} {
		if err := str(f.n, f.d); err != nil {
			return c, err
		}
	}
	if raw, ok := m["aud"]; ok {
		var one string
		if err := json.Unmarshal(raw, &one); err == nil {
			c.aud = []string{one}
		} else if err := json.Unmarshal(raw, &c.aud); err != nil {
			return c, fmt.Errorf("%w: aud must be a string or an array of strings", ErrClaims)
		}
	}
	for _, f := range []struct {
		n string
		d *int64
	}{{"exp", &c.exp}, {"iat", &c.iat}} {
		if ok, err := num(f.n, f.d); err != nil {
			return c, err
		} else if !ok {
			return c, fmt.Errorf("%w: %s is required", ErrClaims, f.n)
		}
	}
	ok, err := num("nbf", &c.nbf)
	if err != nil {
		return c, err
	}
	c.hasNbf = ok
	return c, nil
}

// check applies RFC 7523 §3 and the FAPI 2.0 rules: iss and sub are the
// client id; aud is exactly one value and it is one of audiences (a list of
// several audiences is refused, closing the audience-injection confusion);
// iat is not more than skew in the future; exp is after now-skew and at most
// MaxAssertionLifetime after iat; nbf, if present, is not after now+skew; jti
// is present.
func (c assertionClaims) check(clientID string, audiences []string, now time.Time, skew time.Duration) error {
	if c.iss == "" || c.iss != clientID || c.sub != c.iss {
		return fmt.Errorf("%w: iss and sub must both be the client id", ErrClaims)
	}
	if len(c.aud) != 1 || !contains(audiences, c.aud[0]) {
		return fmt.Errorf("%w: aud must be exactly this server's issuer or token endpoint", ErrClaims)
	}
	if c.jti == "" || len(c.jti) > maxJTILen {
		return fmt.Errorf("%w: jti must be 1-%d bytes", ErrClaims, maxJTILen)
	}
	t := now.Unix()
	s := int64(skew / time.Second)
	switch {
	case c.iat > t+s:
		return fmt.Errorf("%w: iat is in the future", ErrClaims)
	case c.exp <= c.iat:
		return fmt.Errorf("%w: exp is not after iat", ErrClaims)
	case c.exp-c.iat > int64(MaxAssertionLifetime/time.Second):
		return fmt.Errorf("%w: exp is more than %v after iat", ErrClaims, MaxAssertionLifetime)
	case c.exp+s <= t:
		return fmt.Errorf("%w: assertion expired", ErrClaims)
	case c.hasNbf && c.nbf > t+s:
		return fmt.Errorf("%w: nbf is in the future", ErrClaims)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// checkAssertionTyp accepts no typ, "JWT" (any case, RFC 7515 §4.1.9) or the
// explicit "client-authentication+jwt"; any other type (an ID token, DPoP
// proof, access token, ...) is not a client assertion.
func checkAssertionTyp(typ string) error {
	switch {
	case typ == "", strings.EqualFold(typ, "JWT"), strings.EqualFold(typ, "client-authentication+jwt"):
		return nil
	}
	return fmt.Errorf("%w: typ %q is not a client assertion", ErrMalformedJWS, truncate(typ))
}

// parsedAssertion is a client assertion parsed but not yet tied to a client.
type parsedAssertion struct {
	jws    *compactJWS
	claims assertionClaims
}

func parseAssertion(s string) (*parsedAssertion, error) {
	j, err := parseCompactJWS(s)
	if err != nil {
		return nil, err
	}
	if err := checkAssertionTyp(j.header.Typ); err != nil {
		return nil, err
	}
	c, err := parseAssertionClaims(j.payload)
	if err != nil {
		return nil, err
	}
	if c.iss == "" {
		return nil, fmt.Errorf("%w: iss is required", ErrClaims)
	}
	return &parsedAssertion{jws: j, claims: c}, nil
}

// verify checks the signature against ks and then the claims.
func (p *parsedAssertion) verify(ks *KeySet, clientID string, audiences []string, now time.Time, skew time.Duration) error {
	if ks == nil {
		return errors.New("tenant: client has no keys")
	}
	if err := ks.verify(p.jws); err != nil {
		return err
	}
	return p.claims.check(clientID, audiences, now, skew)
}
