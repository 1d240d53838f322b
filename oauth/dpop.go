package oauth

import (
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/madoguchi/madoguchi/tenant"
)

// DPoP (RFC 9449) policy.
const (
	// MaxDPoPLen bounds a DPoP header: a proof with an RSA-8192 jwk is
	// about 2.5 KiB.
	MaxDPoPLen = 4 << 10
	// dpopPast is how old a proof's iat may be; dpopFuture how far ahead
	// (FAPI 2.0 §5.3.1.1: accept up to 10 s in the future).
	dpopPast   = 60 * time.Second
	dpopFuture = 10 * time.Second
	// nonceWindow is how long one server nonce is current; a nonce is
	// accepted in its window and the next one.
	nonceWindow = 60 * time.Second
	maxJTI      = 256
	// maxLocalJTIs bounds the in-memory replay cache; when full, proofs
	// are refused (503) rather than accepted unchecked.
	maxLocalJTIs = 1 << 20
)

// dpopProof is a verified proof's content.
type dpopProof struct {
	jkt   string
	jti   string
	iat   int64
	nonce string
}

// nonces issues and checks DPoP server nonces (RFC 9449 §8, §9). A nonce
// is bound to this instance and a time window: instance(8) || window(8) ||
// HMAC-SHA-256(key, instance || window)[:16]. Another instance's nonce is
// answered with use_dpop_nonce and this instance's own, so a proof is only
// ever accepted by the instance whose replay cache holds its jti: the local
// cache is complete for proofs it accepts, and no store is read per request.
type nonces struct {
	key      [32]byte
	instance [8]byte
	now      func() time.Time
	// memo holds the nonces of the latest window seen and the one
	// before, so a request costs no HMAC.
	memo atomic.Pointer[nonceMemo]
}

type nonceMemo struct {
	window      int64
	cur, before string
}

func newNonces(now func() time.Time) *nonces {
	n := &nonces{now: now}
	_, _ = rand.Read(n.key[:])
	_, _ = rand.Read(n.instance[:])
	return n
}

func (n *nonces) make(w int64) string {
	var b [32]byte
	copy(b[:8], n.instance[:])
	binary.BigEndian.PutUint64(b[8:16], uint64(w))
	m := hmac.New(sha256.New, n.key[:])
	m.Write(b[:16])
	copy(b[16:], m.Sum(nil)[:16])
	return b64.EncodeToString(b[:])
}

// window returns the nonces of the current window and the one before.
func (n *nonces) window() *nonceMemo {
	w := n.now().Unix() / int64(nonceWindow/time.Second)
	if m := n.memo.Load(); m != nil && m.window == w {
		return m
	}
	m := &nonceMemo{window: w, cur: n.make(w), before: n.make(w - 1)}
	n.memo.Store(m)
	return m
}

// current returns the nonce of the current window.
func (n *nonces) current() string { return n.window().cur }

// valid reports whether s is this instance's nonce of the current or the
// previous window.
func (n *nonces) valid(s string) bool {
	if len(s) != 43 {
		return false
	}
	m := n.window()
	return subtle.ConstantTimeCompare([]byte(m.cur), []byte(s))|subtle.ConstantTimeCompare([]byte(m.before), []byte(s)) == 1
}

// localJTIs is the in-memory replay cache of DPoP proofs accepted by this
// instance (see nonces for why it is complete). A jti must be remembered
// for jtiRetention after it was accepted: the proof's iat window and its
// nonce's two windows. Entries live in a ring of jtiGenerations
// generations of jtiRetention/(jtiGenerations-1) each; an entry is found
// while its generation is among the ring's, i.e. for at least
// jtiRetention and at most a quarter longer. Expiry is dropping a whole
// generation when the ring turns: no walk over the entries, so a full
// cache never stalls requests behind a sweep.
type localJTIs struct {
	mu    sync.Mutex
	ring  [jtiGenerations]jtiGeneration
	count int // entries in the live generations
	max   int // capacity; 0 is maxLocalJTIs
}

type jtiGeneration struct {
	gen  int64 // which generation this slot holds
	seen map[[32]byte]struct{}
}

const (
	jtiRetention   = int64((dpopPast + dpopFuture + nonceWindow) / time.Second)
	jtiGenerations = 5
	jtiGenSeconds  = (jtiRetention + jtiGenerations - 2) / (jtiGenerations - 1) // rounded up
)

// spend records key at unix time now; false if it was already recorded
// within the retention.
func (c *localJTIs) spend(key [32]byte, now int64) (bool, error) {
	g := now / jtiGenSeconds
	c.mu.Lock()
	defer c.mu.Unlock()
	live := func(s *jtiGeneration) bool { return s.seen != nil && s.gen > g-jtiGenerations && s.gen <= g }
	for i := range c.ring {
		s := &c.ring[i]
		if s.seen != nil && !live(s) {
			c.count -= len(s.seen)
			s.seen = nil
		}
		if s.seen != nil {
			if _, ok := s.seen[key]; ok {
				return false, nil
			}
		}
	}
	if limit := cmp.Or(c.max, maxLocalJTIs); c.count >= limit {
		return false, errors.New("oauth: DPoP replay cache full")
	}
	s := &c.ring[g%jtiGenerations]
	if s.seen == nil || s.gen != g {
		c.count -= len(s.seen)
		s.gen, s.seen = g, map[[32]byte]struct{}{}
	}
	s.seen[key] = struct{}{}
	c.count++
	return true, nil
}

// dpopCheck describes the request a proof must match.
type dpopCheck struct {
	method string
	htu    string // scheme://host/path of the request, no query
	// ath is the SHA-256 of the access token the proof must be bound to
	// (the token's cache key, hashed once); nil at the token endpoint.
	ath *[32]byte
}

// dpopError builds the error for a rejected proof: use_dpop_nonce carries a
// fresh nonce; resource requests answer 401 with a DPoP challenge.
func (s *Server) dpopError(resource bool, nonceErr bool, cause error) *Error {
	var e *Error
	switch {
	case nonceErr && resource:
		e = oerr(http.StatusUnauthorized, "use_dpop_nonce", "Resend the request with the DPoP-Nonce value in the proof.", cause)
	case nonceErr:
		e = oerr(http.StatusBadRequest, "use_dpop_nonce", "Resend the request with the DPoP-Nonce value in the proof.", cause)
	case resource:
		e = oerr(http.StatusUnauthorized, "invalid_dpop_proof", "The DPoP proof is invalid.", cause)
	default:
		e = oerr(http.StatusBadRequest, "invalid_dpop_proof", "The DPoP proof is invalid.", cause)
	}
	if nonceErr {
		e.Nonce = s.nonces.current()
	}
	if resource {
		e.Challenge = `DPoP error="` + e.Code + `", algs="ES256 PS256 EdDSA"`
	}
	return e
}

// verifyDPoP checks the DPoP header of r against c (RFC 9449 §4.3): one
// header, typ dpop+jwt, an allowed algorithm, a public jwk that verifies the
// signature, htm and htu equal to this request, iat within
// [now-60 s, now+10 s], a jti not seen before, ath for resource requests,
// and this instance's current nonce. It returns nil, nil when r has no DPoP
// header.
func (s *Server) verifyDPoP(r *http.Request, c dpopCheck, resource bool) (*dpopProof, error) {
	hs := r.Header.Values("DPoP")
	if len(hs) == 0 {
		return nil, nil
	}
	if len(hs) > 1 {
		return nil, s.dpopError(resource, false, fmt.Errorf("%w: more than one DPoP header", ErrDPoP))
	}
	p, err := parseDPoP(s.dpopKeys, hs[0])
	if err != nil {
		return nil, s.dpopError(resource, false, err)
	}
	now := s.now()
	if err := p.claims.check(c, now); err != nil {
		return nil, s.dpopError(resource, false, err)
	}
	if p.claims.nonce == "" || !s.nonces.valid(p.claims.nonce) {
		return nil, s.dpopError(resource, true, ErrDPoPNonce)
	}
	key := sha256.Sum256([]byte(p.jkt + "\x00" + p.claims.jti))
	ok, err := s.dpopJTIs.spend(key, now.Unix())
	if err != nil {
		return nil, oerr(http.StatusServiceUnavailable, "temporarily_unavailable", "Try again shortly.", err)
	}
	if !ok {
		return nil, s.dpopError(resource, false, fmt.Errorf("%w: %w: jti", ErrDPoP, ErrReplay))
	}
	return &dpopProof{jkt: p.jkt, jti: p.claims.jti, iat: p.claims.iat, nonce: p.claims.nonce}, nil
}

// parsedDPoP is a proof whose signature verified under its own jwk.
type parsedDPoP struct {
	jkt    string
	claims dpopClaims
}

type dpopClaims struct {
	jti, htm, htu, ath, nonce string
	iat                       int64
}

// parseDPoP parses and verifies a proof's signature and claim types; it
// does not check them against a request. keys caches the embedded public
// keys (nil: parse each). The claims are read by tenant.ScanObject (strict
// JSON, no duplicates) straight into their fields: a member that is
// present must have the right type — "ath": null is refused, not absent.
func parseDPoP(keys *tenant.KeyCache, s string) (*parsedDPoP, error) {
	if len(s) > MaxDPoPLen {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrDPoP, len(s), MaxDPoPLen)
	}
	j, k, err := keys.ParseJWSWithKey(s, MaxDPoPLen)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDPoP, err)
	}
	if j.Typ() != "dpop+jwt" {
		return nil, fmt.Errorf("%w: typ must be dpop+jwt", ErrDPoP)
	}
	var c dpopClaims
	var have uint8
	const (
		hasJTI = 1 << iota
		hasHTM
		hasHTU
		hasIAT
	)
	err = tenant.ScanObject(j.Payload(), func(name string, raw []byte) error {
		var dst *string
		switch name {
		case "jti":
			dst, have = &c.jti, have|hasJTI
		case "htm":
			dst, have = &c.htm, have|hasHTM
		case "htu":
			dst, have = &c.htu, have|hasHTU
		case "ath":
			dst = &c.ath
		case "nonce":
			dst = &c.nonce
		case "iat":
			have |= hasIAT
			v, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil || v < 0 || v > 1<<40 {
				return fmt.Errorf("%w: iat must be an integer NumericDate", ErrDPoP)
			}
			c.iat = v
			return nil
		default:
			return nil // other claims are allowed and ignored
		}
		v, ok := tenant.JSONString(raw)
		if !ok || len(v) > 2048 {
			return fmt.Errorf("%w: %s must be a string", ErrDPoP, name)
		}
		*dst = v
		return nil
	})
	if errors.Is(err, ErrDPoP) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrDPoP, err)
	}
	for _, r := range []struct {
		bit  uint8
		name string
	}{{hasJTI, "jti"}, {hasHTM, "htm"}, {hasHTU, "htu"}, {hasIAT, "iat"}} {
		if have&r.bit == 0 {
			return nil, fmt.Errorf("%w: %s is required", ErrDPoP, r.name)
		}
	}
	if c.jti == "" || len(c.jti) > maxJTI {
		return nil, fmt.Errorf("%w: jti must be 1-%d bytes", ErrDPoP, maxJTI)
	}
	return &parsedDPoP{jkt: k.Thumbprint(), claims: c}, nil
}

// check compares the claims with the request.
func (c dpopClaims) check(want dpopCheck, now time.Time) error {
	if c.htm != want.method {
		return fmt.Errorf("%w: htm %q does not match the request", ErrDPoP, trunc(c.htm))
	}
	htu := c.htu
	if i := strings.IndexAny(htu, "?#"); i >= 0 {
		htu = htu[:i]
	}
	if htu != want.htu {
		return fmt.Errorf("%w: htu does not match the request URL", ErrDPoP)
	}
	t := now.Unix()
	switch {
	case c.iat > t+int64(dpopFuture/time.Second):
		return fmt.Errorf("%w: iat is in the future", ErrDPoP)
	case c.iat < t-int64(dpopPast/time.Second):
		return fmt.Errorf("%w: %w: iat is too old", ErrDPoP, ErrExpired)
	}
	if want.ath != nil {
		// ath is base64url(SHA-256(token)): 43 characters, strict.
		var got [32]byte
		n, err := base64.RawURLEncoding.Strict().Decode(got[:], []byte(c.ath))
		if len(c.ath) != 43 || err != nil || n != 32 || subtle.ConstantTimeCompare(got[:], want.ath[:]) != 1 {
			return fmt.Errorf("%w: ath does not match the access token", ErrDPoP)
		}
	} else if c.ath != "" {
		return fmt.Errorf("%w: ath is only for resource requests", ErrDPoP)
	}
	return nil
}

// trunc shortens attacker-supplied text quoted in an error.
func trunc(s string) string {
	if len(s) <= 32 {
		return s
	}
	return s[:32] + "…"
}
