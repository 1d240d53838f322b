package jpki

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"
)

// ChallengeLabel is the domain-separation label inside every challenge. A
// signature made for another protocol cannot carry it by accident.
const ChallengeLabel = "madoguchi/jpki/challenge"

// ChallengeVersion is the only challenge structure version this package
// produces and accepts.
const ChallengeVersion = 1

// Limits on challenge fields. They keep the signed bytes small (a card signs
// a hash, but the record keeps the bytes for years) and bound the parser.
const (
	MinNonceSize        = 16 // 128 bits
	MaxNonceSize        = 64
	MaxChallengeField   = 256 // bytes of session id, relying service or purpose
	MaxChallengeSize    = 2048
	MaxChallengeLife    = 30 * time.Minute
	challengeTimeFormat = "20060102150405Z"
)

// Challenge is what the server asks the card to sign. Its encoding (Marshal)
// is DER and canonical: ParseChallenge accepts exactly the bytes Marshal
// produces for the same values, and nothing else.
type Challenge struct {
	SessionID      string
	Nonce          []byte
	RelyingService string
	Purpose        string
	IssuedAt       time.Time // second precision, UTC
	ExpiresAt      time.Time // second precision, UTC
}

// challengeDER is the wire structure:
//
//	Challenge ::= SEQUENCE {
//	  version        INTEGER (1),
//	  label          UTF8String ("madoguchi/jpki/challenge"),
//	  sessionID      UTF8String,
//	  nonce          OCTET STRING (SIZE(16..64)),
//	  relyingService UTF8String,
//	  purpose        UTF8String,
//	  issuedAt       GeneralizedTime,
//	  expiresAt      GeneralizedTime }
type challengeDER struct {
	Version        int
	Label          string `asn1:"utf8"`
	SessionID      string `asn1:"utf8"`
	Nonce          []byte
	RelyingService string    `asn1:"utf8"`
	Purpose        string    `asn1:"utf8"`
	IssuedAt       time.Time `asn1:"generalized"`
	ExpiresAt      time.Time `asn1:"generalized"`
}

// NewChallenge returns a challenge for one signature, with a fresh nonce of
// MinNonceSize*2 bytes read from rand, valid from now for life.
func NewChallenge(rand io.Reader, sessionID, relyingService, purpose string, now time.Time, life time.Duration) (*Challenge, error) {
	nonce := make([]byte, 2*MinNonceSize)
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, fmt.Errorf("jpki: challenge nonce: %w", err)
	}
	issued := now.UTC().Truncate(time.Second)
	c := &Challenge{
		SessionID:      sessionID,
		Nonce:          nonce,
		RelyingService: relyingService,
		Purpose:        purpose,
		IssuedAt:       issued,
		ExpiresAt:      issued.Add(life.Truncate(time.Second)),
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Challenge) validate() error {
	for _, f := range []struct{ name, v string }{
		{"session id", c.SessionID}, {"relying service", c.RelyingService}, {"purpose", c.Purpose},
	} {
		if f.v == "" || len(f.v) > MaxChallengeField || !utf8.ValidString(f.v) {
			return fmt.Errorf("%w: %s must be 1..%d bytes of UTF-8", ErrChallengeMalformed, f.name, MaxChallengeField)
		}
	}
	if len(c.Nonce) < MinNonceSize || len(c.Nonce) > MaxNonceSize {
		return fmt.Errorf("%w: nonce must be %d..%d bytes, got %d", ErrChallengeMalformed, MinNonceSize, MaxNonceSize, len(c.Nonce))
	}
	if !c.IssuedAt.Equal(c.IssuedAt.Truncate(time.Second)) || !c.ExpiresAt.Equal(c.ExpiresAt.Truncate(time.Second)) {
		return fmt.Errorf("%w: times must have whole seconds", ErrChallengeMalformed)
	}
	if c.IssuedAt.Year() < 2000 || c.IssuedAt.Year() > 9999 {
		return fmt.Errorf("%w: issued-at out of range", ErrChallengeMalformed)
	}
	life := c.ExpiresAt.Sub(c.IssuedAt)
	if life <= 0 || life > MaxChallengeLife {
		return fmt.Errorf("%w: lifetime must be in (0, %v], got %v", ErrChallengeMalformed, MaxChallengeLife, life)
	}
	return nil
}

// Marshal returns the canonical bytes to be signed.
func (c *Challenge) Marshal() ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	return asn1.Marshal(challengeDER{
		Version:        ChallengeVersion,
		Label:          ChallengeLabel,
		SessionID:      c.SessionID,
		Nonce:          c.Nonce,
		RelyingService: c.RelyingService,
		Purpose:        c.Purpose,
		IssuedAt:       c.IssuedAt.UTC(),
		ExpiresAt:      c.ExpiresAt.UTC(),
	})
}

// ParseChallenge decodes challenge bytes. It refuses anything that is not the
// canonical encoding of a valid challenge of this version: trailing bytes,
// other labels or versions, BER variants, fractional seconds, local times.
func ParseChallenge(b []byte) (*Challenge, error) {
	if len(b) == 0 || len(b) > MaxChallengeSize {
		return nil, fmt.Errorf("%w: size %d outside 1..%d", ErrChallengeMalformed, len(b), MaxChallengeSize)
	}
	var d challengeDER
	rest, err := asn1.Unmarshal(b, &d)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrChallengeMalformed, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrChallengeMalformed, len(rest))
	}
	if d.Version != ChallengeVersion {
		return nil, fmt.Errorf("%w: version %d", ErrChallengeMalformed, d.Version)
	}
	if d.Label != ChallengeLabel {
		return nil, fmt.Errorf("%w: wrong domain label", ErrChallengeMalformed)
	}
	c := &Challenge{
		SessionID:      d.SessionID,
		Nonce:          d.Nonce,
		RelyingService: d.RelyingService,
		Purpose:        d.Purpose,
		IssuedAt:       d.IssuedAt.UTC(),
		ExpiresAt:      d.ExpiresAt.UTC(),
	}
	again, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, b) {
		return nil, fmt.Errorf("%w: not the canonical encoding", ErrChallengeMalformed)
	}
	return c, nil
}

// Digest is SHA-256 of the challenge's canonical bytes: what a raw-form card
// signature covers.
func (c *Challenge) Digest() ([32]byte, error) {
	b, err := c.Marshal()
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// NonceSpender records that a challenge nonce has been used. Spend reports
// fresh=true exactly once per nonce (across all instances sharing the store),
// and may forget a nonce after exp, when the challenge is expired anyway.
type NonceSpender interface {
	Spend(ctx context.Context, nonce []byte, exp time.Time) (fresh bool, err error)
}

// MemorySpender is an in-process NonceSpender for tests and the CLI. It is
// safe for concurrent use; expired entries are pruned on each Spend.
type MemorySpender struct {
	mu    sync.Mutex
	spent map[string]time.Time
	now   func() time.Time
}

// NewMemorySpender returns an empty MemorySpender. now is the clock used to
// prune expired nonces; nil means time.Now.
func NewMemorySpender(now func() time.Time) *MemorySpender {
	if now == nil {
		now = time.Now
	}
	return &MemorySpender{spent: make(map[string]time.Time), now: now}
}

var _ NonceSpender = (*MemorySpender)(nil)

// Spend implements NonceSpender.
func (m *MemorySpender) Spend(ctx context.Context, nonce []byte, exp time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if len(nonce) == 0 {
		return false, errors.New("jpki: empty nonce")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for k, e := range m.spent {
		if now.After(e) {
			delete(m.spent, k)
		}
	}
	k := string(nonce)
	if _, ok := m.spent[k]; ok {
		return false, nil
	}
	m.spent[k] = exp
	return true, nil
}
