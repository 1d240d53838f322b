package oauth

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/madoguchi/madoguchi/store"
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
	// maxLocalJTIs bounds the in-memory replay cache: 4,194,304 entries
	// (23 bytes each measured, with the map's growth room: under 100 MiB
	// when full), each held up to 165 s (see localJTIs), is about 25,000
	// proofs a second sustained (1<<20 was 6,400, less than one instance
	// on two cores serves). When full, a proof is refused (503) rather
	// than accepted unchecked, except where the shared store decides
	// (PostgreSQL).
	maxLocalJTIs = 1 << 22
)

// dpopProof is a verified proof's content.
type dpopProof struct {
	jkt   string
	jti   string
	iat   int64
	nonce string
}

// nonces issues and checks DPoP server nonces (RFC 9449 §8, §9) for the
// whole deployment. There is one random nonce per nonceWindow slot, kept in
// the store (oauth_dpop_nonces): the first instance that needs a slot's
// nonce creates it and every instance reads it, so a nonce one instance
// handed out is accepted by all of them, whichever instance a load
// balancer sends the next request to. A nonce is accepted in its slot and
// the next. Requests read a memo (an atomic pointer); the store is read
// once per slot per instance, and again, at most once per second, when a
// client presents a nonce the memo lacks (another instance whose clock runs
// a little ahead made the next slot's nonce first). A nonce is public: it
// only proves a proof was made after the server said it. A store that
// cannot be reached fails the request (503), never skips the check.
type nonces struct {
	db  *store.DB
	now func() time.Time
	mu  sync.Mutex // one load at a time
	// memo holds the nonces of the latest slot loaded.
	memo atomic.Pointer[nonceMemo]
}

type nonceMemo struct {
	slot int64
	// cur is this slot's nonce, before the previous slot's ("" if none was
	// made), next the next slot's if another instance already made it.
	cur, before, next string
	loaded            time.Time
}

func newNonces(db *store.DB, now func() time.Time) *nonces {
	return &nonces{db: db, now: now}
}

func nonceSlot(t time.Time) int64 { return t.Unix() / int64(nonceWindow/time.Second) }

// load reads the nonces of slot-1..slot+1 from the store; with create it
// first stores a nonce for slot if no instance has yet (a reload within
// the slot only reads). Called with n.mu held.
func (n *nonces) load(ctx context.Context, slot int64, create bool) (*nonceMemo, error) {
	if create {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		expires := time.Unix((slot+2)*int64(nonceWindow/time.Second), 0)
		if _, err := n.db.Exec(ctx, `INSERT INTO oauth_dpop_nonces (slot, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT (slot) DO NOTHING`,
			slot, b64.EncodeToString(b[:]), store.Micros(expires)); err != nil {
			return nil, fmt.Errorf("oauth: DPoP nonce: %w", err)
		}
	}
	rows, err := n.db.Query(ctx, `SELECT slot, nonce FROM oauth_dpop_nonces WHERE slot BETWEEN ? AND ?`, slot-1, slot+1)
	if err != nil {
		return nil, fmt.Errorf("oauth: DPoP nonce: %w", err)
	}
	defer rows.Close()
	m := &nonceMemo{slot: slot, loaded: n.now()}
	for rows.Next() {
		var sl int64
		var v string
		if err := rows.Scan(&sl, &v); err != nil {
			return nil, fmt.Errorf("oauth: DPoP nonce: %w", err)
		}
		switch sl {
		case slot:
			m.cur = v
		case slot - 1:
			m.before = v
		case slot + 1:
			m.next = v
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("oauth: DPoP nonce: %w", err)
	}
	if m.cur == "" {
		return nil, errors.New("oauth: DPoP nonce: the slot's nonce was not stored")
	}
	n.memo.Store(m)
	return m, nil
}

// window returns the memo of the current slot, loading it when the slot
// changed.
func (n *nonces) window(ctx context.Context) (*nonceMemo, error) {
	slot := nonceSlot(n.now())
	if m := n.memo.Load(); m != nil && m.slot == slot {
		return m, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if m := n.memo.Load(); m != nil && m.slot == slot {
		return m, nil
	}
	return n.load(ctx, slot, true)
}

// current returns the nonce of the current slot.
func (n *nonces) current(ctx context.Context) (string, error) {
	m, err := n.window(ctx)
	if err != nil {
		return "", err
	}
	return m.cur, nil
}

// valid reports whether s is the deployment's nonce of the current or the
// previous slot (or of the next, made early by an instance whose clock is
// ahead).
func (n *nonces) valid(ctx context.Context, s string) (bool, error) {
	if len(s) != 43 {
		return false, nil
	}
	m, err := n.window(ctx)
	if err != nil {
		return false, err
	}
	if m.has(s) {
		return true, nil
	}
	if m.next != "" || n.now().Sub(m.loaded) < time.Second {
		return false, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if cur := n.memo.Load(); cur != m { // another request reloaded meanwhile
		return cur.has(s), nil
	}
	if m, err = n.load(ctx, m.slot, false); err != nil {
		return false, err
	}
	return m.has(s), nil
}

func (m *nonceMemo) has(s string) bool {
	eq := func(v string) int {
		if v == "" {
			return 0
		}
		return subtle.ConstantTimeCompare([]byte(v), []byte(s))
	}
	return eq(m.cur)|eq(m.before)|eq(m.next) == 1
}

// localJTIs is the in-memory replay cache of DPoP proofs accepted by this
// instance. On SQLite (one instance per database) it is the replay cache;
// on PostgreSQL, where several instances share the store, it is a first
// filter and every proof it lets through is also spent in the store (see
// verifyDPoP). A jti must be remembered for jtiRetention after it was
// accepted: the proof's iat window and its nonce's two windows. Entries
// live in a ring of jtiGenerations generations of
// jtiRetention/(jtiGenerations-1) each; an entry is found while its
// generation is among the ring's, i.e. for at least jtiRetention and at
// most a quarter longer. Expiry is dropping a whole generation when the
// ring turns: no walk over the entries, so a full cache never stalls
// requests behind a sweep.
//
// An entry is a 64-bit keyed hash (hash/maphash, a random seed per
// process) of the proof's key thumbprint and jti: the same proof always
// finds its entry, so no replay passes; two different proofs share one
// with a chance of about n/2^64 (under 2^-42 when full), which refuses a
// fresh proof and never accepts a replayed one, and an outsider cannot aim
// at another client's proofs without the seed.
type localJTIs struct {
	mu    sync.Mutex
	ring  [jtiGenerations]jtiGeneration
	count int // entries in the live generations
	max   int // capacity; 0 is maxLocalJTIs
}

type jtiGeneration struct {
	gen  int64 // which generation this slot holds
	seen map[uint64]struct{}
}

const (
	jtiRetention   = int64((dpopPast + dpopFuture + nonceWindow) / time.Second)
	jtiGenerations = 5
	jtiGenSeconds  = (jtiRetention + jtiGenerations - 2) / (jtiGenerations - 1) // rounded up
)

// spend records key at unix time now; false if it was already recorded
// within the retention.
func (c *localJTIs) spend(key uint64, now int64) (bool, error) {
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
		return false, errJTIsFull
	}
	s := &c.ring[g%jtiGenerations]
	if s.seen == nil || s.gen != g {
		c.count -= len(s.seen)
		s.gen, s.seen = g, map[uint64]struct{}{}
	}
	s.seen[key] = struct{}{}
	c.count++
	return true, nil
}

// errJTIsFull: the in-memory replay cache holds maxLocalJTIs entries.
var errJTIsFull = errors.New("oauth: DPoP replay cache full")

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
func (s *Server) dpopError(ctx context.Context, resource bool, nonceErr bool, cause error) error {
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
		n, err := s.nonces.current(ctx)
		if err != nil {
			return unavailable(err)
		}
		e.Nonce = n
	}
	if resource {
		e.Challenge = `DPoP error="` + e.Code + `", algs="ES256 PS256 EdDSA"`
	}
	return e
}

// unavailable is the answer when the store a check needs cannot be
// reached: 503, never the check skipped.
func unavailable(cause error) *Error {
	return oerr(http.StatusServiceUnavailable, "temporarily_unavailable", "Try again shortly.", cause)
}

// setNonce sends the current DPoP nonce with a successful answer (RFC 9449
// §8.2: a server may supply a new nonce at any time). Without a store the
// header is left out; the next proof's check fails closed.
func (s *Server) setNonce(w http.ResponseWriter, ctx context.Context) {
	if n, err := s.nonces.current(ctx); err == nil {
		w.Header().Set("DPoP-Nonce", n)
	} else {
		s.log.WarnContext(ctx, "oauth: DPoP nonce unavailable", "err", err)
	}
}

// verifyDPoP checks the DPoP header of r against c (RFC 9449 §4.3): one
// header, typ dpop+jwt, an allowed algorithm, a public jwk that verifies the
// signature, htm and htu equal to this request, iat within
// [now-60 s, now+10 s], the deployment's current nonce, ath for resource
// requests, and a jti not seen before by any instance: this instance's
// cache first, then, on PostgreSQL, the store every instance shares (one
// insert, no read). It returns nil, nil when r has no DPoP header.
func (s *Server) verifyDPoP(r *http.Request, c dpopCheck, resource bool) (*dpopProof, error) {
	hs := r.Header.Values("DPoP")
	if len(hs) == 0 {
		return nil, nil
	}
	ctx := r.Context()
	if len(hs) > 1 {
		return nil, s.dpopError(ctx, resource, false, fmt.Errorf("%w: more than one DPoP header", ErrDPoP))
	}
	p, err := parseDPoP(s.dpopKeys, hs[0])
	if err != nil {
		return nil, s.dpopError(ctx, resource, false, err)
	}
	now := s.now()
	if err := p.claims.check(c, now); err != nil {
		return nil, s.dpopError(ctx, resource, false, err)
	}
	if p.claims.nonce == "" {
		return nil, s.dpopError(ctx, resource, true, ErrDPoPNonce)
	}
	switch ok, err := s.nonces.valid(ctx, p.claims.nonce); {
	case err != nil:
		return nil, unavailable(err)
	case !ok:
		return nil, s.dpopError(ctx, resource, true, ErrDPoPNonce)
	}
	var h maphash.Hash
	h.SetSeed(s.jtiSeed)
	h.WriteString(p.jkt)
	h.WriteByte(0)
	h.WriteString(p.claims.jti)
	ok, err := s.dpopJTIs.spend(h.Sum64(), now.Unix())
	switch {
	case errors.Is(err, errJTIsFull) && s.sharedReplay:
		ok = true // the shared store below decides alone
	case err != nil:
		return nil, unavailable(err)
	}
	if ok && s.sharedReplay {
		key := sha256.Sum256([]byte(p.jkt + "\x00" + p.claims.jti))
		err = s.spends.spend(ctx, key, now.Add(time.Duration(jtiRetention)*time.Second))
		if errors.Is(err, ErrReplay) {
			ok = false
		} else if err != nil {
			return nil, unavailable(err)
		}
	}
	if !ok {
		return nil, s.dpopError(ctx, resource, false, fmt.Errorf("%w: %w: jti", ErrDPoP, ErrReplay))
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
