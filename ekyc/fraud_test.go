package ekyc

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// fakeFraud records what eKYC hands the fraud checks and answers with
// canned findings. The checks themselves are tested in package fraud and,
// wired for real, end to end in cmd/madoguchi (TestFraudEndToEnd).
type fakeFraud struct {
	mu        sync.Mutex
	inputs    []FraudInput
	findings  []FraudFinding
	err       error
	approved  []string
	forgotten []string
	observed  []string
}

func (f *fakeFraud) Check(_ context.Context, in FraudInput) ([]FraudFinding, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	return f.findings, f.err
}

func (f *fakeFraud) Approved(_ context.Context, tx *store.Tx, tenant, session string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tx == nil {
		return errors.New("no transaction")
	}
	f.approved = append(f.approved, session)
	return nil
}

func (f *fakeFraud) Forget(_ context.Context, tx *store.Tx, tenant, subject string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tx == nil {
		return errors.New("no transaction")
	}
	f.forgotten = append(f.forgotten, subject)
	return nil
}

func (f *fakeFraud) Observe(_ context.Context, tenant, session, subject, kind, value string, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.observed = append(f.observed, kind+"="+value)
	return nil
}

func TestFraudChecksConsulted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ff := &fakeFraud{}
		e := newEnv(t, db, func(c *Config) { c.Fraud = ff })

		// A clean approval: the checks saw the verified identity, the
		// document, the device and the live face; the session is enrolled.
		c := e.create(e.tenantA, "he")
		st, err := e.svc.StartCapture(WithClientAddr(e.ctx, "198.51.100.7"), tokenOf(t, c))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SubmitChip(e.ctx, kiosk, e.tenantA, c.Session.ID, "jpdl", e.licence(7)); err != nil {
			t.Fatal(err)
		}
		p := &page{e: e, start: st, key: mustB64(t, st.Key), nonce: st.FrameNonce}
		p.selfies(7, 0.95)
		ss, err := e.svc.Submit(e.ctx, st.Key)
		if err != nil || ss.Outcome != OutcomeApproved {
			t.Fatalf("Submit = %v, %v, want approved", ss, err)
		}
		in := ff.inputs[0]
		if in.Session != ss.ID || in.Subject == "" || in.Face == nil || in.Face.Model() != testModel || in.Name != "山田　太郎" ||
			in.BirthDate != "1990-01-02" || in.DocumentNumber != "301234567890" || in.DocumentKind != "jpdl" || in.Device != kiosk.ID || in.FaceThreshold != 0.5 {
			t.Errorf("Check input = %+v", in)
		}
		if !slices.Equal(ff.approved, []string{ss.ID}) || !slices.Equal(ff.observed, []string{"network=198.51.100.7"}) {
			t.Errorf("approved %v, observed %v", ff.approved, ff.observed)
		}

		// Findings become reasons with their policy action (review by
		// default), naming the related sessions; nothing is enrolled.
		ff.findings = []FraudFinding{{Code: ReasonDuplicateIdentity, Detail: "matches", Sessions: []string{ss.ID}},
			{Code: ReasonWatchlist, Detail: "hit", Entry: "hansha/H1@v1"}}
		ss2 := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(7, 0.95) })
		if ss2.Outcome != OutcomeReview {
			t.Fatalf("outcome = %s, want review", ss2.Outcome)
		}
		var dup, wl *Reason
		for i, r := range ss2.Decision.Reasons {
			switch r.Code {
			case ReasonDuplicateIdentity:
				dup = &ss2.Decision.Reasons[i]
			case ReasonWatchlist:
				wl = &ss2.Decision.Reasons[i]
			}
		}
		if dup == nil || dup.Action != Review || !slices.Equal(dup.Sessions, []string{ss.ID}) || wl == nil || wl.Entry != "hansha/H1@v1" {
			t.Errorf("reasons = %+v", ss2.Decision.Reasons)
		}
		if len(ff.approved) != 1 {
			t.Errorf("a session under review was enrolled: %v", ff.approved)
		}
		// The tenant's policy can make a fraud reason reject.
		pol, _, _ := e.svc.Policy(e.ctx, e.tenantA)
		pol.Actions = map[string]Action{ReasonDuplicateIdentity: Reject}
		if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantA, pol); err != nil {
			t.Fatal(err)
		}
		if ss3 := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(7, 0.95) }); ss3.Outcome != OutcomeRejected {
			t.Errorf("outcome with reject action = %s", ss3.Outcome)
		}

		// A reviewer's approval enrols the session.
		staffer := Staff{ID: "stf_r", Roles: []string{RoleReviewer}, TenantID: e.tenantA}
		if _, err := e.svc.Claim(e.ctx, staffer, ss2.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Decide(e.ctx, staffer, ss2.ID, approve(ss2.Method)); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ff.approved, ss2.ID) {
			t.Errorf("reviewer approval not enrolled: %v", ff.approved)
		}

		// The checks not ready: the session waits in submitted.
		ff.findings, ff.err = nil, ErrFraudNotReady
		ss4 := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(7, 0.95) })
		if ss4.State != StateSubmitted {
			t.Errorf("state with fraud checks not ready = %s, want submitted", ss4.State)
		}
		ff.err = nil

		// Shredding the subject forgets it in the fraud checks.
		if _, err := e.svc.ContractEnded(e.ctx, client, e.tenantA, ss.ID, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Until(time.Now().AddDate(7, 0, 2)))
		if _, err := e.svc.ShredExpired(e.ctx); err != nil {
			t.Fatal(err)
		}
		if len(ff.forgotten) == 0 || ff.forgotten[0] != in.Subject {
			t.Errorf("forgotten = %v, want the shredded subject %s", ff.forgotten, in.Subject)
		}
	})
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRelatedEvidence: the reviewer of a session with a fraud reason opens
// the sessions the reason names (audited), and nothing else.
func TestRelatedEvidence(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ff := &fakeFraud{}
		e := newEnv(t, db, func(c *Config) { c.Fraud = ff })
		first := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(7, 0.95) })
		other := e.runHe(e.tenantA, e.licence(8), func(p *page) { p.selfies(8, 0.95) })
		foreign := e.runHe(e.tenantB, e.licence(9), func(p *page) { p.selfies(9, 0.95) })
		ff.findings = []FraudFinding{{Code: ReasonDuplicateIdentity, Detail: "matches", Sessions: []string{first.ID, foreign.ID}}}
		dup := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(7, 0.95) })
		rv := Staff{ID: "stf_r", Roles: []string{RoleReviewer}, TenantID: e.tenantA}
		if _, err := e.svc.RelatedEvidence(e.ctx, rv, dup.ID, first.ID); !errors.Is(err, ErrClaimed) {
			t.Errorf("RelatedEvidence before the claim = %v, want ErrClaimed", err)
		}
		if _, err := e.svc.Claim(e.ctx, rv, dup.ID); err != nil {
			t.Fatal(err)
		}
		v, err := e.svc.RelatedEvidence(e.ctx, rv, dup.ID, first.ID)
		if err != nil || v.SessionID != first.ID || len(v.Frames) == 0 || v.Chip == nil {
			t.Fatalf("RelatedEvidence = %+v, %v", v, err)
		}
		if img, err := e.svc.RelatedFrameImage(e.ctx, rv, dup.ID, first.ID, 1); err != nil || len(img) == 0 {
			t.Errorf("RelatedFrameImage = %d bytes, %v", len(img), err)
		}
		if img, _, err := e.svc.RelatedChipPhoto(e.ctx, rv, dup.ID, first.ID); err != nil || len(img) == 0 {
			t.Errorf("RelatedChipPhoto = %d bytes, %v", len(img), err)
		}
		for name, sid := range map[string]string{"not named": other.ID, "other tenant (named)": foreign.ID, "itself": dup.ID} {
			if _, err := e.svc.RelatedEvidence(e.ctx, rv, dup.ID, sid); !errors.Is(err, ErrNotFound) {
				t.Errorf("RelatedEvidence(%s) = %v, want ErrNotFound", name, err)
			}
		}
		got := e.auditActions(first.ID)
		for _, a := range []string{"ekyc.review.view_related", "ekyc.review.view_related_frame", "ekyc.review.view_related_chip_photo"} {
			if !slices.Contains(got, a) {
				t.Errorf("audit of the related session lacks %s: %v", a, got)
			}
		}
	})
}
