package jpki_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/document/jpki"
)

// zeroReader yields zero bytes, for a known-answer challenge.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestChallengeKnownAnswer(t *testing.T) {
	c, err := jpki.NewChallenge(zeroReader{}, "s1", "rp", "kyc", time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	const want = "306e020101" + // SEQUENCE, version 1
		"0c186d61646f67756368692f6a706b692f6368616c6c656e6765" + // label
		"0c027331" + // session id "s1"
		"04200000000000000000000000000000000000000000000000000000000000000000" + // nonce
		"0c027270" + "0c036b7963" + // relying service, purpose
		"180f32303236303430313030303030305a" + "180f32303236303430313030303130305a" // issued, expires
	if got := hex.EncodeToString(b); got != want {
		t.Errorf("Marshal() = %s, want %s", got, want)
	}
}

func TestChallengeRoundTrip(t *testing.T) {
	c, err := jpki.NewChallenge(rand.Reader, "sess-1", "bank.example", "口座開設", time.Now(), 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := jpki.ParseChallenge(b)
	if err != nil {
		t.Fatalf("ParseChallenge(Marshal()) = %v", err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("ParseChallenge(Marshal()) mismatch (-want +got):\n%s", diff)
	}
}

func TestChallengeRefusals(t *testing.T) {
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	valid := func() *jpki.Challenge {
		return &jpki.Challenge{SessionID: "s", Nonce: make([]byte, 16), RelyingService: "rp", Purpose: "p", IssuedAt: now, ExpiresAt: now.Add(time.Minute)}
	}
	good, err := valid().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	type raw struct {
		Version        int
		Label          string `asn1:"utf8"`
		SessionID      string `asn1:"utf8"`
		Nonce          []byte
		RelyingService string    `asn1:"utf8"`
		Purpose        string    `asn1:"utf8"`
		IssuedAt       time.Time `asn1:"generalized"`
		ExpiresAt      time.Time `asn1:"generalized"`
	}
	enc := func(f func(*raw)) []byte {
		r := raw{1, jpki.ChallengeLabel, "s", make([]byte, 16), "rp", "p", now, now.Add(time.Minute)}
		f(&r)
		b, err := asn1.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"trailing byte", append(append([]byte{}, good...), 0)},
		{"truncated", good[:len(good)-1]},
		{"oversized", make([]byte, jpki.MaxChallengeSize+1)},
		{"version 2", enc(func(r *raw) { r.Version = 2 })},
		{"other label", enc(func(r *raw) { r.Label = "other/protocol" })},
		{"short nonce", enc(func(r *raw) { r.Nonce = make([]byte, 15) })},
		{"empty session", enc(func(r *raw) { r.SessionID = "" })},
		{"expiry before issue", enc(func(r *raw) { r.ExpiresAt = now.Add(-time.Second) })},
		{"lifetime too long", enc(func(r *raw) { r.ExpiresAt = now.Add(jpki.MaxChallengeLife + time.Second) })},
		{"fractional seconds", fractional(t, good)},
		{"long length form", append([]byte{0x30, 0x81, byte(len(good) - 2)}, good[2:]...)},
	}
	for _, tc := range tests {
		if _, err := jpki.ParseChallenge(tc.in); !errors.Is(err, jpki.ErrChallengeMalformed) {
			t.Errorf("ParseChallenge(%s) = %v, want ErrChallengeMalformed", tc.name, err)
		}
	}
	for _, tc := range []struct {
		name string
		f    func(*jpki.Challenge)
	}{
		{"long purpose", func(c *jpki.Challenge) { c.Purpose = strings.Repeat("x", jpki.MaxChallengeField+1) }},
		{"bad UTF-8", func(c *jpki.Challenge) { c.SessionID = "\xff" }},
		{"nonce too long", func(c *jpki.Challenge) { c.Nonce = make([]byte, jpki.MaxNonceSize+1) }},
	} {
		c := valid()
		tc.f(c)
		if _, err := c.Marshal(); !errors.Is(err, jpki.ErrChallengeMalformed) {
			t.Errorf("Marshal(%s) = %v, want ErrChallengeMalformed", tc.name, err)
		}
	}
}

func TestNewChallengeNonceFresh(t *testing.T) {
	a, err := jpki.NewChallenge(rand.Reader, "s", "rp", "p", time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b, err := jpki.NewChallenge(rand.Reader, "s", "rp", "p", time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Nonce) < jpki.MinNonceSize || bytes.Equal(a.Nonce, b.Nonce) {
		t.Errorf("nonces %x and %x: want distinct, >= %d bytes", a.Nonce, b.Nonce, jpki.MinNonceSize)
	}
	if _, err := jpki.NewChallenge(strings.NewReader("short"), "s", "rp", "p", time.Now(), time.Minute); err == nil {
		t.Error("NewChallenge(short rand) = nil error, want error")
	}
}

func TestMemorySpender(t *testing.T) {
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	s := jpki.NewMemorySpender(func() time.Time { return now })
	ctx := context.Background()
	n := []byte("0123456789abcdef")
	for i, want := range []bool{true, false, false} {
		got, err := s.Spend(ctx, n, now.Add(time.Minute))
		if err != nil || got != want {
			t.Errorf("Spend #%d = %v, %v, want %v, nil", i, got, err, want)
		}
	}
	if _, err := s.Spend(ctx, nil, now); err == nil {
		t.Error("Spend(empty) = nil error, want error")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Spend(cctx, []byte("x"), now); !errors.Is(err, context.Canceled) {
		t.Errorf("Spend(cancelled) = %v, want context.Canceled", err)
	}
}

// fractional rewrites the issued-at of a valid challenge as
// "20260401000000.5Z", which decodes to a time the canonical form cannot carry.
func fractional(t *testing.T, good []byte) []byte {
	t.Helper()
	old := append([]byte{0x18, 0x0f}, "20260401000000Z"...)
	i := bytes.Index(good, old)
	if i < 0 || good[1] > 0x7d {
		t.Fatal("issued-at not found")
	}
	out := append([]byte{0x30, good[1] + 2}, good[2:i]...)
	out = append(out, 0x18, 0x11)
	out = append(out, "20260401000000.5Z"...)
	return append(out, good[i+len(old):]...)
}
