package txauth

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/vault"
)

func TestCardLifecycle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cu := e.customer(e.tenantA, "C-100")
		c, err := e.svc.IssueCard(e.ctx, client, e.tenantA, cu.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^MDG(-[0-9A-HJKMNP-TV-Z]{4}){3}$`).MatchString(c.Serial) || c.State != CardIssued || c.Candidates != 16 {
			t.Errorf("issued card = %+v", c)
		}
		if _, err := e.svc.IssueCard(e.ctx, client, e.tenantA, cu.ID); !errors.Is(err, ErrState) {
			t.Errorf("IssueCard(second on its way) = %v, want ErrState", err)
		}
		if _, err := e.svc.Card(e.ctx, e.tenantB, c.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Card(other tenant) = %v, want ErrNotFound", err)
		}
		pdf, err := e.svc.PrintCard(e.ctx, client, e.tenantA, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		checkPDF(t, pdf)
		if _, err := e.svc.CreateActivation(e.ctx, client, e.tenantA, c.ID, ""); !errors.Is(err, ErrState) {
			t.Errorf("CreateActivation(not delivered) = %v, want ErrState", err)
		}
		for _, bad := range []string{"", "abc", "12345678901234567890123456789012345"} {
			if _, err := e.svc.MarkMailed(e.ctx, client, e.tenantA, c.ID, bad); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("MarkMailed(%q) = %v, want ErrInvalidInput", bad, err)
			}
		}
		if _, err := e.svc.MarkMailed(e.ctx, client, e.tenantA, c.ID, "1234-5678-9012"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.PrintCard(e.ctx, client, e.tenantA, c.ID); !errors.Is(err, ErrState) {
			t.Errorf("PrintCard(mailed) = %v, want ErrState", err)
		}
		if _, err := e.svc.MarkDelivered(e.ctx, client, e.tenantA, c.ID); err != nil {
			t.Fatal(err)
		}

		// Before activation the tenant's legacy method still works.
		p, _, _ := e.svc.Policy(e.ctx, e.tenantA)
		p.Require = []Factor{FactorLegacy}
		if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantA, p); err != nil {
			t.Fatal(err)
		}
		lc, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := e.svc.ReportLegacy(e.ctx, client, e.tenantA, lc.Confirmation.ID); err != nil || got.State != StateConfirmed {
			t.Fatalf("ReportLegacy(before activation) = %+v, %v", got, err)
		}

		act, err := e.svc.CreateActivation(e.ctx, client, e.tenantA, c.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		tok := tokenOf(t, act.ConfirmURL)
		v, err := e.svc.Page(e.ctx, tok)
		if err != nil || v.Challenge == nil || v.Kind != KindActivation || v.CardSerial != c.Serial {
			t.Fatalf("Page(activation) = %+v, %v", v, err)
		}
		if v, err = e.svc.Answer(e.ctx, tok, v.Challenge.ID, e.rightPicks(c, v.Challenge)); err != nil || v.State != StateConfirmed {
			t.Fatalf("Answer = %+v, %v", v, err)
		}
		if c, _ = e.svc.Card(e.ctx, e.tenantA, c.ID); c.State != CardActive || c.ActivatedAt.IsZero() || c.Uses != 1 {
			t.Errorf("card after activation = %+v", c)
		}
		// After activation the legacy method is refused for this customer.
		lc, err = e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
		if !errors.Is(err, ErrFactor) {
			t.Errorf("Create(legacy required after activation) = %+v, %v, want ErrFactor", lc, err)
		}
		// ...while another customer without a card may still use it until
		// the tenant's deadline.
		other := e.customer(e.tenantA, "C-101")
		oc, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: other.ID, Transaction: sampleTx()})
		if err != nil {
			t.Fatalf("Create(legacy, other customer) = %v", err)
		}
		p.LegacyDeadline = e.clock.Now().Add(-time.Second)
		if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantA, p); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ReportLegacy(e.ctx, client, e.tenantA, oc.Confirmation.ID); !errors.Is(err, ErrFactor) {
			t.Errorf("ReportLegacy(after the tenant's deadline) = %v, want ErrFactor", err)
		}
		if got := e.auditActions(oc.Confirmation.ID); !slices.Contains(got, "txauth.legacy.refused") {
			t.Errorf("refusal not audited: %v", got)
		}

		// Reissue: the new card replaces the old one when activated.
		p.Require, p.LegacyDeadline = []Factor{FactorImageCard}, time.Time{}
		if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantA, p); err != nil {
			t.Fatal(err)
		}
		n, err := e.svc.IssueCard(e.ctx, client, e.tenantA, cu.ID)
		if err != nil || n.Replaces != c.ID {
			t.Fatalf("IssueCard(reissue) = %+v, %v", n, err)
		}
		// The old card still confirms until the new one is activated.
		conf, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
		if err != nil || conf.Confirmation.CardID != c.ID {
			t.Fatalf("Create(during reissue) = %+v, %v; want the old card", conf, err)
		}
		e.svc.MarkMailed(e.ctx, client, e.tenantA, n.ID, "9999")
		e.svc.MarkDelivered(e.ctx, client, e.tenantA, n.ID)
		act, _ = e.svc.CreateActivation(e.ctx, client, e.tenantA, n.ID, "")
		tok = tokenOf(t, act.ConfirmURL)
		v, _ = e.svc.Page(e.ctx, tok)
		if _, err := e.svc.Answer(e.ctx, tok, v.Challenge.ID, e.rightPicks(n, v.Challenge)); err != nil {
			t.Fatal(err)
		}
		if old, _ := e.svc.Card(e.ctx, e.tenantA, c.ID); old.State != CardReplaced {
			t.Errorf("old card = %s, want replaced", old.State)
		}
		// The pending confirmation bound to the old card cannot use it now.
		tok = tokenOf(t, conf.ConfirmURL)
		if v, err := e.svc.Page(e.ctx, tok); err == nil && v.Challenge != nil {
			_, err = e.svc.Answer(e.ctx, tok, v.Challenge.ID, e.rightPicks(c, v.Challenge))
			if !errors.Is(err, ErrLocked) {
				t.Errorf("Answer(with the replaced card) = %v, want ErrLocked", err)
			}
		}
		// Revoke.
		if r, err := e.svc.RevokeCard(e.ctx, client, e.tenantA, n.ID, "lost"); err != nil || r.State != CardRevoked {
			t.Errorf("RevokeCard = %+v, %v", r, err)
		}
		if _, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()}); !errors.Is(err, ErrFactor) {
			t.Errorf("Create(no usable card) = %v, want ErrFactor", err)
		}
		for _, want := range []string{"txauth.card.issue", "txauth.card.print", "txauth.card.mailed", "txauth.card.delivered", "txauth.card.active"} {
			if !slices.Contains(e.auditActions(c.ID), want) {
				t.Errorf("card audit %v lacks %s", e.auditActions(c.ID), want)
			}
		}
	})
}

// checkPDF checks the structure of the printable card: two pages, an xref
// whose offsets point at their objects, a 1011x638 RGB image that inflates
// to exactly that many bytes, the Japanese warning on the back.
func checkPDF(t *testing.T, pdf []byte) {
	t.Helper()
	if !bytes.HasPrefix(pdf, []byte("%PDF-1.7\n")) || !bytes.HasSuffix(pdf, []byte("%%EOF\n")) {
		t.Fatal("not a PDF")
	}
	m := regexp.MustCompile(`startxref\n(\d+)\n`).FindSubmatch(pdf)
	if m == nil {
		t.Fatal("no startxref")
	}
	xref, _ := strconv.Atoi(string(m[1]))
	if !bytes.HasPrefix(pdf[xref:], []byte("xref\n0 12\n")) {
		t.Fatalf("startxref %d does not point at an xref of 12 entries", xref)
	}
	entries := regexp.MustCompile(`(\d{10}) 00000 n `).FindAllSubmatch(pdf[xref:], -1)
	if len(entries) != 11 {
		t.Fatalf("%d xref entries, want 11", len(entries))
	}
	for i, en := range entries {
		off, _ := strconv.Atoi(string(en[1]))
		if want := fmt.Sprintf("%d 0 obj\n", i+1); !bytes.HasPrefix(pdf[off:], []byte(want)) {
			t.Errorf("xref entry %d points at %q, want %q", i+1, pdf[off:off+10], want)
		}
	}
	if !bytes.Contains(pdf, []byte("/Count 2")) || !bytes.Contains(pdf, []byte("/Width 1011 /Height 638")) {
		t.Error("want two pages and a 1011x638 image (85.6 x 54 mm at 300 dpi)")
	}
	start := bytes.Index(pdf, []byte("stream\n")) + len("stream\n")
	end := bytes.Index(pdf[start:], []byte("\nendstream"))
	zr, err := zlib.NewReader(bytes.NewReader(pdf[start : start+end]))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil || len(raw) != 1011*638*3 {
		t.Errorf("image stream inflates to %d bytes (%v), want %d", len(raw), err, 1011*638*3)
	}
	if !bytes.Contains(pdf, []byte(ucs2("このカードを撮影・コピー・スキャンしないでください。"))) ||
		!bytes.Contains(pdf, []byte("Never photograph, copy or scan this card.")) {
		t.Error("the back's never-photograph warning is missing")
	}
}

func TestImageChallenge(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cu := e.customer(e.tenantA, "C-200")
		card := e.activeCard(e.tenantA, cu.ID)
		cr, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
		if err != nil {
			t.Fatal(err)
		}
		tok := tokenOf(t, cr.ConfirmURL)
		v1, err := e.svc.Page(e.ctx, tok)
		if err != nil || v1.Challenge == nil || v1.Transaction == nil {
			t.Fatalf("Page = %+v, %v", v1, err)
		}
		want := sampleTx()
		want.Currency = "JPY"
		if *v1.Transaction != want {
			t.Errorf("page transaction = %+v, want the server's copy", v1.Transaction)
		}
		ch := v1.Challenge
		if ch.Cells[0] == ch.Cells[1] || len(ch.Candidates[0]) != 16 || len(ch.Candidates[1]) != 16 || ch.AttemptsLeft != 5 {
			t.Errorf("challenge = %+v", ch)
		}
		// A reload shows the same challenge, ids and image bytes.
		v2, _ := e.svc.Page(e.ctx, tok)
		if v2.Challenge.ID != ch.ID || !slices.Equal(v2.Challenge.Candidates[0], ch.Candidates[0]) {
			t.Errorf("reload gave another challenge: %+v", v2.Challenge)
		}
		img1, err := e.svc.CandidateImage(e.ctx, tok, ch.ID, ch.Candidates[0][0])
		if err != nil {
			t.Fatal(err)
		}
		if img2, _ := e.svc.CandidateImage(e.ctx, tok, ch.ID, ch.Candidates[0][0]); !bytes.Equal(img1, img2) {
			t.Error("the same candidate rendered different bytes on reload")
		}
		if _, err := e.svc.CandidateImage(e.ctx, tok, ch.ID, "AAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, ErrNotFound) {
			t.Errorf("CandidateImage(unknown id) = %v, want ErrNotFound", err)
		}
		_, sec1 := e.secrets(card, ch)

		// Wrong answer: generic, the challenge is used, a new one asks the
		// same cells with the same candidate pictures but new ids and bytes.
		_, err = e.svc.Answer(e.ctx, tok, ch.ID, e.wrongPicks(card, ch))
		var ae *AnswerError
		if !errors.As(err, &ae) || ae.AttemptsLeft != 4 || ae.Locked {
			t.Fatalf("Answer(wrong) = %v, want AnswerError with 4 left", err)
		}
		if _, err := e.svc.Answer(e.ctx, tok, ch.ID, e.rightPicks(card, ch)); !errors.Is(err, ErrReplay) {
			t.Errorf("Answer(used challenge) = %v, want ErrReplay", err)
		}
		v3, err := e.svc.Page(e.ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		ch3 := v3.Challenge
		if ch3.ID == ch.ID || ch3.Cells != ch.Cells || ch3.AttemptsLeft != 4 {
			t.Errorf("challenge after a failure = %+v, want a new id for the same cells %v", ch3, ch.Cells)
		}
		_, sec3 := e.secrets(card, ch3)
		for i := range 2 {
			if !slices.Equal(sec1.Pictures[i], sec3.Pictures[i]) {
				t.Errorf("cell %s candidate pictures changed between challenges: %v vs %v", ch.Cells[i], sec1.Pictures[i], sec3.Pictures[i])
			}
			if slices.ContainsFunc(ch3.Candidates[i], func(id string) bool { return slices.Contains(ch.Candidates[i], id) }) {
				t.Errorf("cell %s: an opaque id was reused across challenges", ch.Cells[i])
			}
		}
		img3, _ := e.svc.CandidateImage(e.ctx, tok, ch3.ID, ch3.Candidates[0][0])
		if bytes.Equal(img1, img3) {
			t.Error("the same picture rendered identical bytes in two challenges")
		}
		if _, err := e.svc.CandidateImage(e.ctx, tok, ch.ID, ch.Candidates[0][0]); !errors.Is(err, ErrNotFound) {
			t.Errorf("CandidateImage(used challenge) = %v, want ErrNotFound", err)
		}

		// Expiry: the challenge lapses; the next one asks the same cells.
		e.clock.Add(4 * time.Minute)
		if _, err := e.svc.Answer(e.ctx, tok, ch3.ID, e.rightPicks(card, ch3)); !errors.Is(err, ErrExpired) {
			t.Errorf("Answer(expired challenge) = %v, want ErrExpired", err)
		}
		v4, _ := e.svc.Page(e.ctx, tok)
		if v4.Challenge.Cells != ch.Cells {
			t.Errorf("cells after expiry = %v, want the same %v", v4.Challenge.Cells, ch.Cells)
		}
		// The right answer confirms; the signed result names the hash.
		v5, err := e.svc.Answer(e.ctx, tok, v4.Challenge.ID, e.rightPicks(card, v4.Challenge))
		if err != nil || v5.State != StateConfirmed {
			t.Fatalf("Answer(right) = %+v, %v", v5, err)
		}
		if _, err := e.svc.Answer(e.ctx, tok, v4.Challenge.ID, e.rightPicks(card, v4.Challenge)); !errors.Is(err, ErrState) {
			t.Errorf("Answer(replayed after confirmation) = %v, want ErrState", err)
		}
		jws, err := e.svc.Result(e.ctx, client, e.tenantA, cr.Confirmation.ID)
		if err != nil {
			t.Fatal(err)
		}
		res, err := VerifyResult(jws, e.svc.JWKS())
		tx := sampleTx()
		h := tx.Hash()
		if err != nil || res.Outcome != StateConfirmed || res.TransactionHash != b64(h[:]) || !slices.Equal(res.Factors, []Factor{FactorImageCard}) || res.Audience != e.tenantA {
			t.Fatalf("result = %+v, %v", res, err)
		}
		if _, err := e.svc.Result(e.ctx, client, e.tenantB, cr.Confirmation.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Result(other tenant) = %v, want ErrNotFound", err)
		}
		// The next confirmation asks new cells.
		cr2, _ := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
		v6, _ := e.svc.Page(e.ctx, tokenOf(t, cr2.ConfirmURL))
		if slices.Contains(v6.Challenge.Cells[:], ch.Cells[0]) || slices.Contains(v6.Challenge.Cells[:], ch.Cells[1]) {
			t.Errorf("cells after success = %v, want a pair avoiding the recent %v", v6.Challenge.Cells, ch.Cells)
		}
		if got := e.events(e.tenantA); !slices.Contains(got, EventDecided) || !slices.Contains(got, EventNotice+":confirmation.confirmed") {
			t.Errorf("events = %v, want the result and a customer notice", got)
		}
	})
}

func TestLockoutAndDualControlUnlock(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cu := e.customer(e.tenantA, "C-300")
		card := e.activeCard(e.tenantA, cu.ID)
		cr, _ := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
		tok := tokenOf(t, cr.ConfirmURL)
		for i := 1; i <= 5; i++ {
			e.clock.Add(time.Second)
			v, err := e.svc.Page(e.ctx, tok)
			if err != nil {
				t.Fatalf("Page before attempt %d = %v", i, err)
			}
			_, err = e.svc.Answer(e.ctx, tok, v.Challenge.ID, e.wrongPicks(card, v.Challenge))
			var ae *AnswerError
			if !errors.As(err, &ae) || ae.AttemptsLeft != 5-i || ae.Locked != (i == 5) {
				t.Fatalf("attempt %d = %v (%+v)", i, err, ae)
			}
		}
		if _, err := e.svc.Page(e.ctx, tok); !errors.Is(err, ErrLocked) {
			t.Errorf("Page(locked card) = %v, want ErrLocked", err)
		}
		if _, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()}); !errors.Is(err, ErrLocked) {
			t.Errorf("Create(locked card) = %v, want ErrLocked", err)
		}
		ev := e.events(e.tenantA)
		for _, want := range []string{EventNotice + ":" + NoticeCardWarning, EventNotice + ":" + NoticeCardLocked, EventAlert + ":" + AlertCardLocked} {
			if !slices.Contains(ev, want) {
				t.Errorf("events %v lack %s", ev, want)
			}
		}
		if i, j := slices.Index(ev, EventNotice+":"+NoticeCardWarning), slices.Index(ev, EventNotice+":"+NoticeCardLocked); i > j {
			t.Errorf("the warning (%d) came after the lock (%d)", i, j)
		}
		if got := e.auditActions(card.ID); !slices.Contains(got, "txauth.card.lock") {
			t.Errorf("card audit %v lacks the lock", got)
		}

		// Unlock: staff only, re-verification after the lock, two people.
		if _, err := e.svc.RequestUnlock(e.ctx, Staff{ID: "st_x", Roles: []string{"auditor"}}, e.tenantA, card.ID, "ses_x"); !errors.Is(err, ErrForbidden) {
			t.Errorf("RequestUnlock(auditor) = %v, want ErrForbidden", err)
		}
		old := e.approvedSession(e.tenantA, "C-300") // decided at the lock's time, not after
		if _, err := e.svc.RequestUnlock(e.ctx, staffA, e.tenantA, card.ID, old); !errors.Is(err, ErrState) {
			t.Errorf("RequestUnlock(no re-verification after the lock) = %v, want ErrState", err)
		}
		e.clock.Add(time.Hour)
		other := e.approvedSession(e.tenantA, "C-999")
		if _, err := e.svc.RequestUnlock(e.ctx, staffA, e.tenantA, card.ID, other); !errors.Is(err, ErrState) {
			t.Errorf("RequestUnlock(another customer's session) = %v, want ErrState", err)
		}
		fresh := e.approvedSession(e.tenantA, "C-300")
		if _, err := e.svc.RequestUnlock(e.ctx, staffA, e.tenantB, card.ID, fresh); !errors.Is(err, ErrNotFound) {
			t.Errorf("RequestUnlock(other tenant) = %v, want ErrNotFound", err)
		}
		u, err := e.svc.RequestUnlock(e.ctx, staffA, e.tenantA, card.ID, fresh)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ApproveUnlock(e.ctx, staffA, u.ID); !errors.Is(err, ErrForbidden) {
			t.Errorf("ApproveUnlock(by the requester) = %v, want ErrForbidden", err)
		}
		if ul, err := e.svc.ApproveUnlock(e.ctx, staffB, u.ID); err != nil || ul.State != "approved" || ul.Factor != FactorImageCard {
			t.Fatalf("ApproveUnlock = %+v, %v", ul, err)
		}
		if got, err := e.svc.Card(e.ctx, e.tenantA, card.ID); err != nil || got.Locked() || got.Failures != 0 {
			t.Fatalf("card after ApproveUnlock = %+v, %v", got, err)
		}
		if _, err := e.svc.ApproveUnlock(e.ctx, staffB, u.ID); !errors.Is(err, ErrState) {
			t.Errorf("ApproveUnlock(twice) = %v, want ErrState", err)
		}
		for _, want := range []string{"txauth.card.unlock_request", "txauth.card.unlock_approve", "txauth.card.unlock"} {
			if !slices.Contains(e.auditActions(card.ID), want) {
				t.Errorf("card audit %v lacks %s", e.auditActions(card.ID), want)
			}
		}
		// The card works again.
		cr2, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
		if err != nil {
			t.Fatal(err)
		}
		tok2 := tokenOf(t, cr2.ConfirmURL)
		v, err := e.svc.Page(e.ctx, tok2)
		if err != nil || v.Challenge.AttemptsLeft != 5 {
			t.Fatalf("Page after unlock = %+v, %v", v, err)
		}
		if v, err := e.svc.Answer(e.ctx, tok2, v.Challenge.ID, e.rightPicks(card, v.Challenge)); err != nil || v.State != StateConfirmed {
			t.Errorf("Answer after unlock = %+v, %v", v, err)
		}
	})
}

// TestConcurrentAnswers: many answers to one challenge at once; exactly one
// counts (the others are replays), whether right or wrong.
func TestConcurrentAnswers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cu := e.customer(e.tenantA, "C-400")
		card := e.activeCard(e.tenantA, cu.ID)
		for _, right := range []bool{false, true} {
			cr, _ := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
			tok := tokenOf(t, cr.ConfirmURL)
			v, err := e.svc.Page(e.ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			picks := e.wrongPicks(card, v.Challenge)
			if right {
				picks = e.rightPicks(card, v.Challenge)
			}
			var (
				wg                    sync.WaitGroup
				mu                    sync.Mutex
				counted, replays, bad int
			)
			for range 8 {
				wg.Go(func() {
					_, err := e.svc.Answer(e.ctx, tok, v.Challenge.ID, picks)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil || errors.Is(err, ErrWrongAnswer):
						counted++
					case errors.Is(err, ErrReplay), errors.Is(err, ErrState):
						replays++
					default:
						bad++
						t.Errorf("Answer = %v", err)
					}
				})
			}
			wg.Wait()
			if counted != 1 || replays != 7 || bad != 0 {
				t.Errorf("right=%v: %d counted, %d replays, %d other; want exactly one counted", right, counted, replays, bad)
			}
			c, _ := e.svc.Card(e.ctx, e.tenantA, card.ID)
			if want := map[bool]int{false: 1, true: 0}[right]; c.Failures != want {
				t.Errorf("right=%v: card failures = %d, want %d", right, c.Failures, want)
			}
		}
	})
}

func TestRiskSignalsAndMonitoring(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cu := e.customer(e.tenantA, "C-500")
		card := e.activeCard(e.tenantA, cu.ID)
		confirm := func(r Request) *Confirmation {
			t.Helper()
			cr, err := e.svc.Create(e.ctx, client, e.tenantA, r)
			if err != nil {
				t.Fatal(err)
			}
			tok := tokenOf(t, cr.ConfirmURL)
			v, err := e.svc.Page(e.ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Answer(e.ctx, tok, v.Challenge.ID, e.rightPicks(card, v.Challenge)); err != nil {
				t.Fatal(err)
			}
			c, _ := e.svc.Get(e.ctx, e.tenantA, cr.Confirmation.ID)
			return c
		}
		r := Request{Customer: cu.ID, Transaction: sampleTx(), Network: "203.0.113.7"}
		first := confirm(r)
		if want := []string{SignalNewPayee, SignalNewDevice, SignalNewNetwork}; !slices.Equal(first.Assessment.Signals, want) || first.State != StateConfirmed {
			t.Errorf("first transfer signals = %v (%s), want %v", first.Assessment.Signals, first.State, want)
		}
		r.Network = "203.0.113.99" // same /24
		if again := confirm(r); len(again.Assessment.Signals) != 0 {
			t.Errorf("second transfer signals = %v, want none", again.Assessment.Signals)
		}

		// MITB reported by the relying page: alert, hold; staff release.
		r.Signals.EditedAfterDisplay = true
		cr, err := e.svc.Create(e.ctx, client, e.tenantA, r)
		if err != nil {
			t.Fatal(err)
		}
		if !cr.Confirmation.Held || !slices.Contains(cr.Confirmation.Assessment.Signals, SignalMITB) {
			t.Fatalf("MITB confirmation = %+v, want held with the mitb signal", cr.Confirmation)
		}
		tok := tokenOf(t, cr.ConfirmURL)
		v, _ := e.svc.Page(e.ctx, tok)
		if v, err = e.svc.Answer(e.ctx, tok, v.Challenge.ID, e.rightPicks(card, v.Challenge)); err != nil || v.State != StatePending || !v.Held {
			t.Fatalf("answered held confirmation = %+v, %v; want pending while held", v, err)
		}
		alerts, err := e.svc.ListAlerts(e.ctx, staffA, "open", 0)
		if err != nil || len(alerts) != 1 || alerts[0].Kind != AlertMITB || alerts[0].Confirmation != cr.Confirmation.ID {
			t.Fatalf("alerts = %+v, %v", alerts, err)
		}
		if _, err := e.svc.ListAlerts(e.ctx, Staff{ID: "st_x", Roles: []string{"auditor"}}, "open", 0); !errors.Is(err, ErrForbidden) {
			t.Errorf("ListAlerts(auditor) = %v, want ErrForbidden", err)
		}
		// A tenant's staff see only their tenant.
		staffOfB := Staff{ID: "st_b", Roles: []string{"reviewer"}, TenantID: e.tenantB}
		staffOfA := Staff{ID: "st_a", Roles: []string{"reviewer"}, TenantID: e.tenantA}
		if got, err := e.svc.ListAlerts(e.ctx, staffOfB, "open", 0); err != nil || len(got) != 0 {
			t.Errorf("ListAlerts(tenant B's staff) = %d alerts, %v; want none", len(got), err)
		}
		if got, err := e.svc.ListAlerts(e.ctx, staffOfA, "open", 0); err != nil || len(got) != 1 {
			t.Errorf("ListAlerts(tenant A's staff) = %d alerts, %v; want 1", len(got), err)
		}
		if err := e.svc.CloseAlert(e.ctx, staffOfB, alerts[0].ID, "x"); !errors.Is(err, ErrNotFound) {
			t.Errorf("CloseAlert(tenant B's staff) = %v, want ErrNotFound", err)
		}
		if _, err := e.svc.Release(e.ctx, staffOfB, cr.Confirmation.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Release(tenant B's staff) = %v, want ErrNotFound", err)
		}
		if err := e.svc.LockAccount(e.ctx, staffOfB, e.tenantA, cu.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("LockAccount(tenant B's staff) = %v, want ErrNotFound", err)
		}
		cbID, err := e.svc.RecordCallback(e.ctx, staffA, alerts[0].ID, "confirmed_by_customer", "本人に確認済み")
		if err != nil {
			t.Fatal(err)
		}
		if cbs, err := e.svc.Callbacks(e.ctx, staffB); err != nil || len(cbs) != 1 || cbs[0].ID != cbID || cbs[0].Outcome != "confirmed_by_customer" || cbs[0].StaffID != staffA.ID {
			t.Errorf("Callbacks = %+v, %v; want the one recorded", cbs, err)
		}
		if cbs, err := e.svc.Callbacks(e.ctx, Staff{ID: "st_carol", Roles: []string{"reviewer"}, TenantID: e.tenantB}); err != nil || len(cbs) != 0 {
			t.Errorf("Callbacks(another tenant's staff) = %+v, %v; want none", cbs, err)
		}
		c, err := e.svc.Release(e.ctx, staffB, cr.Confirmation.ID)
		if err != nil || c.State != StateConfirmed {
			t.Fatalf("Release = %+v, %v", c, err)
		}
		if err := e.svc.CloseAlert(e.ctx, staffA, alerts[0].ID, "called_back_ok"); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.CloseAlert(e.ctx, staffA, alerts[0].ID, "again"); !errors.Is(err, ErrState) {
			t.Errorf("CloseAlert(twice) = %v, want ErrState", err)
		}

		// The customer reports a mismatch: rejected, high alert.
		r.Signals = RequestSignals{}
		cr, _ = e.svc.Create(e.ctx, client, e.tenantA, r)
		v, err = e.svc.Mismatch(e.ctx, tokenOf(t, cr.ConfirmURL))
		if err != nil || v.State != StateRejected {
			t.Fatalf("Mismatch = %+v, %v", v, err)
		}
		// Staff lock the account: no new confirmations.
		if err := e.svc.LockAccount(e.ctx, staffA, e.tenantA, cu.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Create(e.ctx, client, e.tenantA, r); !errors.Is(err, ErrLocked) {
			t.Errorf("Create(locked account) = %v, want ErrLocked", err)
		}
		if err := e.svc.UnlockAccount(e.ctx, staffB, e.tenantA, cu.ID); err != nil {
			t.Fatal(err)
		}
		// Velocity: the example policy allows 5 per hour.
		r.Network = ""
		if _, err := e.svc.Create(e.ctx, client, e.tenantA, r); err != nil { // the fifth in the hour
			t.Fatal(err)
		}
		cr, err = e.svc.Create(e.ctx, client, e.tenantA, r)
		if err != nil || !slices.Contains(cr.Confirmation.Assessment.Signals, SignalVelocity) || !cr.Confirmation.Held {
			t.Errorf("sixth confirmation in the hour = %+v, %v; want velocity, held", cr.Confirmation, err)
		}
		ev := e.events(e.tenantA)
		for _, want := range []string{EventAlert + ":" + AlertMITB, EventAlert + ":" + AlertMismatch, EventNotice + ":" + NoticeMismatch} {
			if !slices.Contains(ev, want) {
				t.Errorf("events %v lack %s", ev, want)
			}
		}
	})
}

func TestGuessingSpreadAcrossCards(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		for i := range 10 {
			cu := e.customer(e.tenantA, fmt.Sprintf("G-%d", i))
			card := e.activeCard(e.tenantA, cu.ID)
			cr, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
			if err != nil {
				t.Fatal(err)
			}
			tok := tokenOf(t, cr.ConfirmURL)
			v, _ := e.svc.Page(e.ctx, tok)
			if _, err := e.svc.Answer(e.ctx, tok, v.Challenge.ID, e.wrongPicks(card, v.Challenge)); !errors.Is(err, ErrWrongAnswer) {
				t.Fatal(err)
			}
		}
		alerts, _ := e.svc.ListAlerts(e.ctx, staffA, "open", 0)
		n := 0
		for _, a := range alerts {
			if a.Kind == AlertGuessingSpread {
				n++
				if a.Details["cards"] != "10" {
					t.Errorf("alert details = %v", a.Details)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d guessing alerts after one failure on each of 10 cards, want 1 (alerts %+v)", n, alerts)
		}
	})
}

func TestCrossTenantAndShredded(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cu := e.customer(e.tenantA, "C-600")
		e.activeCard(e.tenantA, cu.ID)
		if _, err := e.svc.Create(e.ctx, client, e.tenantB, Request{Customer: cu.ID, Transaction: sampleTx()}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Create(other tenant's customer) = %v, want ErrNotFound", err)
		}
		if _, err := e.svc.IssueCard(e.ctx, client, e.tenantB, cu.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("IssueCard(other tenant's customer) = %v, want ErrNotFound", err)
		}
		cr, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()})
		if err != nil {
			t.Fatal(err)
		}
		for name, f := range map[string]func() error{
			"Get":         func() error { _, err := e.svc.Get(e.ctx, e.tenantB, cr.Confirmation.ID); return err },
			"Transaction": func() error { _, err := e.svc.Transaction(e.ctx, client, e.tenantB, cr.Confirmation.ID); return err },
			"Cancel":      func() error { _, err := e.svc.Cancel(e.ctx, client, e.tenantB, cr.Confirmation.ID); return err },
			"Legacy":      func() error { _, err := e.svc.ReportLegacy(e.ctx, client, e.tenantB, cr.Confirmation.ID); return err },
		} {
			if err := f(); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s(other tenant) = %v, want ErrNotFound", name, err)
			}
		}
		if _, err := e.svc.Page(e.ctx, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, ErrToken) {
			t.Errorf("Page(unknown token) = %v, want ErrToken", err)
		}
		// Shredding the customer's subject erases everything txauth sealed.
		err = db.InTx(e.ctx, func(tx *store.Tx) error {
			if err := e.vault.Shred(e.ctx, tx, cu.Subject(), vault.System); err != nil {
				return err
			}
			_, err := tx.Exec(e.ctx, `UPDATE customers SET shredded_at = 1 WHERE id = ?`, cu.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Page(e.ctx, tokenOf(t, cr.ConfirmURL)); !errors.Is(err, ErrShredded) {
			t.Errorf("Page(shredded customer) = %v, want ErrShredded", err)
		}
		if _, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx()}); !errors.Is(err, ErrShredded) {
			t.Errorf("Create(shredded customer) = %v, want ErrShredded", err)
		}
	})
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cu := e.customer(e.tenantA, "C-700")
		e.activeCard(e.tenantA, cu.ID)
		cr, _ := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: cu.ID, Transaction: sampleTx(), Webhook: "https://rp.example/hook"})
		e.clock.Add(11 * time.Minute)
		if n, err := e.svc.ExpireDue(e.ctx); err != nil || n != 1 {
			t.Fatalf("ExpireDue = %d, %v", n, err)
		}
		jws, err := e.svc.Result(e.ctx, client, e.tenantA, cr.Confirmation.ID)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := VerifyResult(jws, e.svc.JWKS()); err != nil || res.Outcome != StateExpired {
			t.Errorf("result = %+v, %v, want expired", res, err)
		}
		if _, err := e.svc.Page(e.ctx, tokenOf(t, cr.ConfirmURL)); err != nil {
			t.Errorf("Page(expired) = %v, want the final view", err)
		}
	})
}
