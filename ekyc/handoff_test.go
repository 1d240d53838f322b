package ekyc

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// handoffToken is the token in a hand-off link's fragment.
func handoffToken(t testing.TB, h *Handoff) string {
	t.Helper()
	base, tok, ok := strings.Cut(h.Link, "#h=")
	if !ok || base != "https://madoguchi.test/ekyc/capture" || tok == "" {
		t.Fatalf("hand-off link %q, want the capture page with #h=<token>", h.Link)
	}
	return tok
}

func (e *env) issueHandoff(key string) (*Handoff, string) {
	e.t.Helper()
	h, err := e.svc.IssueHandoff(e.ctx, key)
	if err != nil {
		e.t.Fatalf("IssueHandoff = %v, want nil", err)
	}
	return h, handoffToken(e.t, h)
}

// auditLeaves returns every audit leaf (canonical encoding, details
// included) of object.
func (e *env) auditLeaves(object string) [][]byte {
	e.t.Helper()
	rows, err := e.db.Query(e.ctx, `SELECT leaf FROM audit_entries WHERE object = ? ORDER BY idx`, object)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// handoffAudit returns "action outcome reason" for the hand-off entries
// of object.
func (e *env) handoffAudit(object string) []string {
	e.t.Helper()
	var out []string
	for _, l := range e.auditLeaves(object) {
		en, err := audit.ParseLeaf(l)
		if err != nil {
			e.t.Fatal(err)
		}
		if strings.HasPrefix(en.Action, "ekyc.handoff.") {
			out = append(out, strings.TrimSpace(en.Action+" "+en.Outcome+" "+en.Details["reason"]))
		}
	}
	return out
}

// TestHandoff: the hand-off link carries a one-time token, never the
// capture key; redeeming it gives a second device its own key for the same
// session; replays, superseded, expired and foreign tokens and tokens of a
// session that moved on are refused and audited.
func TestHandoff(t *testing.T) {
	p := newPKI(t)
	card := issue(t, p, jpkitest.CardOptions{Usage: jpki.UsageSign})
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newWaEnv(t, db, p, func(now func() time.Time) jpki.RevocationChecker { return crls(t, p, now) })
		pg := e.open(e.create(e.tenantA, "wa"))
		id := pg.start.SessionID

		h, tok := e.issueHandoff(pg.start.Key)
		if strings.Contains(h.Link, pg.start.Key) || tok == pg.start.Key {
			t.Fatalf("hand-off link %q carries the capture key", h.Link)
		}
		if want := e.clock.Now().Add(DefaultHandoffTTL); !h.ExpiresAt.Equal(want) || h.Session.ID != id {
			t.Errorf("IssueHandoff = expires %v session %s, want %v %s", h.ExpiresAt, h.Session.ID, want, id)
		}
		// Stored as its hash only.
		raw, _ := decodeToken(tok)
		th := sha256.Sum256(raw)
		var n int
		if err := db.QueryRow(e.ctx, `SELECT COUNT(*) FROM ekyc_handoffs WHERE token_hash = ? AND session_id = ? AND state = 'issued'`, th[:], id).Scan(&n); err != nil || n != 1 {
			t.Fatalf("stored hand-off rows for the token's hash = %d, %v; want 1", n, err)
		}

		// A capture key or the capture token is no hand-off token, and a
		// hand-off token is no capture key.
		if _, err := e.svc.RedeemHandoff(e.ctx, pg.start.Key); !errors.Is(err, ErrToken) {
			t.Errorf("RedeemHandoff(capture key) = %v, want ErrToken", err)
		}
		if _, err := e.svc.CaptureState(e.ctx, tok); !errors.Is(err, ErrToken) {
			t.Errorf("CaptureState(hand-off token) = %v, want ErrToken", err)
		}
		for _, bad := range []string{"", "short", strings.Repeat("A", 43) + "!", strings.Repeat("A", 200)} {
			if _, err := e.svc.RedeemHandoff(e.ctx, bad); !errors.Is(err, ErrToken) {
				t.Errorf("RedeemHandoff(%q) = %v, want ErrToken", bad, err)
			}
		}

		dev, err := e.svc.RedeemHandoff(e.ctx, tok)
		if err != nil {
			t.Fatalf("RedeemHandoff = %v, want nil", err)
		}
		if dev.SessionID != id || dev.Method != "wa" || dev.Key == "" || dev.Key == pg.start.Key || dev.Key == tok || dev.FrameNonce != "" {
			t.Errorf("RedeemHandoff = %+v, want a fresh key for session %s", dev, id)
		}
		// Replay of a redeemed token.
		if _, err := e.svc.RedeemHandoff(e.ctx, tok); !errors.Is(err, ErrToken) {
			t.Errorf("RedeemHandoff(again) = %v, want ErrToken", err)
		}
		// Both keys follow the same session; the device cannot hand on.
		for name, k := range map[string]string{"page": pg.start.Key, "device": dev.Key} {
			if ss, err := e.svc.CaptureState(e.ctx, k); err != nil || ss.ID != id || ss.State != StateCapturing {
				t.Errorf("CaptureState(%s key) = %v, %v; want %s capturing", name, ss, err, id)
			}
		}
		if _, err := e.svc.IssueHandoff(e.ctx, dev.Key); !errors.Is(err, ErrState) {
			t.Errorf("IssueHandoff(device key) = %v, want ErrState", err)
		}

		// A newer token supersedes an unredeemed one.
		_, old := e.issueHandoff(pg.start.Key)
		_, cur := e.issueHandoff(pg.start.Key)
		if _, err := e.svc.RedeemHandoff(e.ctx, old); !errors.Is(err, ErrToken) {
			t.Errorf("RedeemHandoff(superseded) = %v, want ErrToken", err)
		}
		// Expiry (the default five minutes).
		e.clock.Add(DefaultHandoffTTL)
		if _, err := e.svc.RedeemHandoff(e.ctx, cur); !errors.Is(err, ErrExpired) {
			t.Errorf("RedeemHandoff(expired) = %v, want ErrExpired", err)
		}

		// Another tenant's session: its tokens and keys are its own.
		pgB := e.open(e.create(e.tenantB, "wa"))
		_, tokA := e.issueHandoff(pg.start.Key)
		_, tokB := e.issueHandoff(pgB.start.Key)
		devB, err := e.svc.RedeemHandoff(e.ctx, tokB)
		if err != nil || devB.SessionID != pgB.start.SessionID {
			t.Fatalf("RedeemHandoff(tenant B's token) = %+v, %v; want tenant B's session", devB, err)
		}
		if ss, err := e.svc.CaptureState(e.ctx, devB.Key); err != nil || ss.ID != pgB.start.SessionID || ss.TenantID != e.tenantB {
			t.Errorf("CaptureState(tenant B's device key) = %v, %v; want B's session only", ss, err)
		}
		if _, err := e.svc.RedeemHandoff(e.ctx, tokB); !errors.Is(err, ErrToken) {
			t.Errorf("RedeemHandoff(tenant B's token, again) = %v, want ErrToken", err)
		}

		// The device signs; the session is decided. A token issued before
		// is then refused, and no new one is issued.
		chs, err := e.svc.JPKIChallenges(e.ctx, dev.Key)
		if err != nil {
			t.Fatalf("JPKIChallenges(device key) = %v", err)
		}
		ss, err := e.svc.SubmitJPKI(e.ctx, dev.Key, JPKISubmission{Sign: signRaw(t, card, chs[0].Bytes)})
		if err != nil || ss.State != StateDecided || ss.Outcome != OutcomeApproved {
			t.Fatalf("SubmitJPKI(device key) = %v %v, %v; want decided approved", outcomeOf(ss), reasonCodes(ss), err)
		}
		if _, err := e.svc.RedeemHandoff(e.ctx, tokA); !errors.Is(err, ErrState) {
			t.Errorf("RedeemHandoff(after the decision) = %v, want ErrState", err)
		}
		if _, err := e.svc.IssueHandoff(e.ctx, pg.start.Key); !errors.Is(err, ErrState) {
			t.Errorf("IssueHandoff(after the decision) = %v, want ErrState", err)
		}
		if st, err := e.svc.CaptureState(e.ctx, pg.start.Key); err != nil || st.State != StateDecided || st.Outcome != OutcomeApproved {
			t.Errorf("CaptureState(page key) after the device signed = %v, %v; want decided approved", st, err)
		}

		want := []string{
			"ekyc.handoff.issue ok",
			"ekyc.handoff.redeem ok",
			"ekyc.handoff.redeem denied token_reused",
			"ekyc.handoff.issue ok",
			"ekyc.handoff.issue ok",
			"ekyc.handoff.redeem denied token_superseded",
			"ekyc.handoff.redeem denied token_expired",
			"ekyc.handoff.issue ok",
			"ekyc.handoff.redeem denied session_state",
		}
		if got := e.handoffAudit(id); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("hand-off audit of the session =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// No token and no key in any audit entry.
		for _, obj := range []string{id, pgB.start.SessionID} {
			for _, l := range e.auditLeaves(obj) {
				for _, secret := range []string{tok, old, cur, tokA, tokB, dev.Key, devB.Key, pg.start.Key} {
					if bytes.Contains(l, []byte(secret)) {
						t.Fatalf("an audit entry of %s carries a token or key", obj)
					}
				}
			}
		}
	})
}

// TestHandoffDiesWithSession: a device key stops working when the session
// expires (like the page's), and a non-ワ session is never handed off; the
// policy's TTL bounds the link, and the session's expiry caps it.
func TestHandoffDiesWithSession(t *testing.T) {
	p := newPKI(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newWaEnv(t, db, p, func(now func() time.Time) jpki.RevocationChecker { return crls(t, p, now) })
		ho := e.open(e.create(e.tenantA, "ho"))
		if _, err := e.svc.IssueHandoff(e.ctx, ho.start.Key); !errors.Is(err, ErrState) {
			t.Errorf("IssueHandoff(ho session) = %v, want ErrState", err)
		}

		pol, _, err := e.svc.Policy(e.ctx, e.tenantA)
		if err != nil {
			t.Fatal(err)
		}
		pol.HandoffTTLSeconds = 60
		if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantA, pol); err != nil {
			t.Fatal(err)
		}
		pg := e.open(e.create(e.tenantA, "wa"))
		h, tok := e.issueHandoff(pg.start.Key)
		if want := e.clock.Now().Add(time.Minute); !h.ExpiresAt.Equal(want) {
			t.Errorf("hand-off expires %v, want %v (policy handoff_ttl_seconds 60)", h.ExpiresAt, want)
		}
		dev, err := e.svc.RedeemHandoff(e.ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		// Close to the session's end the link lasts only as long as it.
		e.clock.Add(pg.start.ExpiresAt.Sub(e.clock.Now()) - 10*time.Second)
		if h, _ := e.issueHandoff(pg.start.Key); !h.ExpiresAt.Equal(pg.start.ExpiresAt) {
			t.Errorf("hand-off near the session's end expires %v, want the session's %v", h.ExpiresAt, pg.start.ExpiresAt)
		}
		e.clock.Add(time.Minute)
		if ss, err := e.svc.CaptureState(e.ctx, dev.Key); err != nil || ss.State != StateExpired {
			t.Errorf("CaptureState(device key) after the session's end = %v, %v; want expired", ss, err)
		}
		for name, k := range map[string]string{"page": pg.start.Key, "device": dev.Key} {
			if _, err := e.svc.CaptureState(e.ctx, k); !errors.Is(err, ErrToken) {
				t.Errorf("CaptureState(%s key) of an expired session = %v, want ErrToken", name, err)
			}
		}

		for _, bad := range []int{30, 601, -1} {
			pol.HandoffTTLSeconds = bad
			if err := pol.Validate(); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("Validate(handoff_ttl_seconds %d) = %v, want ErrInvalidInput", bad, err)
			}
		}
	})
}

// TestHandoffConcurrentRedeem: of concurrent redeems of one token exactly
// one wins; of concurrent issues exactly one token stays valid.
func TestHandoffConcurrentRedeem(t *testing.T) {
	p := newPKI(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newWaEnv(t, db, p, func(now func() time.Time) jpki.RevocationChecker { return crls(t, p, now) })
		pg := e.open(e.create(e.tenantA, "wa"))
		const n = 8
		for round := range 3 {
			_, tok := e.issueHandoff(pg.start.Key)
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				won  []string
				errs []error
			)
			for range n {
				wg.Go(func() {
					d, err := e.svc.RedeemHandoff(e.ctx, tok)
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						won = append(won, d.Key)
					} else {
						errs = append(errs, err)
					}
				})
			}
			wg.Wait()
			if len(won) != 1 {
				t.Fatalf("round %d: %d of %d concurrent redeems won (errors %v), want exactly 1", round, len(won), n, errs)
			}
			for _, err := range errs {
				if !errors.Is(err, ErrToken) {
					t.Errorf("round %d: a losing redeem = %v, want ErrToken", round, err)
				}
			}
			if ss, err := e.svc.CaptureState(e.ctx, won[0]); err != nil || ss.ID != pg.start.SessionID {
				t.Errorf("round %d: the winner's key = %v, %v", round, ss, err)
			}
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var toks []string
		for range n {
			wg.Go(func() {
				h, err := e.svc.IssueHandoff(e.ctx, pg.start.Key)
				if err != nil {
					t.Errorf("concurrent IssueHandoff = %v", err)
					return
				}
				_, tok, _ := strings.Cut(h.Link, "#h=")
				mu.Lock()
				toks = append(toks, tok)
				mu.Unlock()
			})
		}
		wg.Wait()
		redeemed := 0
		for _, tok := range toks {
			if _, err := e.svc.RedeemHandoff(e.ctx, tok); err == nil {
				redeemed++
			} else if !errors.Is(err, ErrToken) {
				t.Errorf("RedeemHandoff(a superseded token) = %v, want ErrToken", err)
			}
		}
		if redeemed != 1 {
			t.Errorf("after %d concurrent issues %d tokens were redeemable, want 1", n, redeemed)
		}
	})
}

// TestHandoffRedeemedState: the page's own key learns from CaptureState
// whether its current hand-off link was redeemed and when (the stored
// time); a superseded link was never used, a fresh link is current until
// it is redeemed in turn, another session's redemption is not this one's,
// and neither a device key nor a non-ワ session gets the field.
func TestHandoffRedeemedState(t *testing.T) {
	p := newPKI(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newWaEnv(t, db, p, func(now func() time.Time) jpki.RevocationChecker { return crls(t, p, now) })
		pg := e.open(e.create(e.tenantA, "wa"))
		state := func(name, key string) *HandoffStatus {
			t.Helper()
			st, err := e.svc.CaptureState(e.ctx, key)
			if err != nil {
				t.Fatalf("CaptureState(%s) = %v, want nil", name, err)
			}
			return st.Handoff
		}
		check := func(step string, want HandoffStatus) {
			t.Helper()
			got := state("page key", pg.start.Key)
			if got == nil || got.Redeemed != want.Redeemed || !got.RedeemedAt.Equal(want.RedeemedAt) {
				t.Errorf("%s: CaptureState(page key).Handoff = %+v, want %+v", step, got, want)
			}
		}

		check("no link issued", HandoffStatus{})
		_, a := e.issueHandoff(pg.start.Key)
		check("link issued", HandoffStatus{})
		_, b := e.issueHandoff(pg.start.Key)
		check("first link superseded unredeemed", HandoffStatus{})
		if _, err := e.svc.RedeemHandoff(e.ctx, a); !errors.Is(err, ErrToken) {
			t.Fatalf("RedeemHandoff(superseded) = %v, want ErrToken", err)
		}
		check("superseded link refused", HandoffStatus{})

		// Another session's redemption is not this page's.
		other := e.open(e.create(e.tenantA, "wa"))
		_, o := e.issueHandoff(other.start.Key)
		if _, err := e.svc.RedeemHandoff(e.ctx, o); err != nil {
			t.Fatal(err)
		}
		check("another session's link redeemed", HandoffStatus{})

		e.clock.Add(time.Minute)
		first := e.clock.Now()
		dev, err := e.svc.RedeemHandoff(e.ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Minute)
		check("current link redeemed", HandoffStatus{Redeemed: true, RedeemedAt: first})
		if got := state("device key", dev.Key); got != nil {
			t.Errorf("CaptureState(device key).Handoff = %+v, want nil (only the page learns it)", got)
		}
		if _, err := e.svc.RedeemHandoff(e.ctx, b); !errors.Is(err, ErrToken) {
			t.Fatalf("RedeemHandoff(again) = %v, want ErrToken", err)
		}
		check("refused replay", HandoffStatus{Redeemed: true, RedeemedAt: first})

		// A fresh link is the page's current one until it, too, is redeemed.
		_, c := e.issueHandoff(pg.start.Key)
		check("fresh link issued", HandoffStatus{})
		e.clock.Add(time.Minute)
		second := e.clock.Now()
		if _, err := e.svc.RedeemHandoff(e.ctx, c); err != nil {
			t.Fatal(err)
		}
		check("fresh link redeemed", HandoffStatus{Redeemed: true, RedeemedAt: second})

		ho := e.open(e.create(e.tenantA, "ho"))
		if got := state("ho page key", ho.start.Key); got != nil {
			t.Errorf("CaptureState(ho page key).Handoff = %+v, want nil", got)
		}
	})
}
