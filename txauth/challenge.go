package txauth

// The confirmation page's side: what the customer sees (the transaction as
// the server holds it) and the image-card challenge.
//
// Challenge rules (api-security.md §3.5):
//   - two distinct cells; the same two cells are asked of a card until they
//     are answered correctly or the card locks (pending_cells), so a reload,
//     an expired challenge or a new transaction reveals no new cell;
//   - each cell shows a fixed candidate set (the right picture and k-1
//     decoys derived from the card's sealed seed), so intersecting repeated
//     challenges narrows nothing below k;
//   - candidates are shown through opaque ids that exist for one challenge
//     only, and their image bytes differ per challenge (renderCandidate);
//   - a challenge belongs to one confirmation (the transaction), expires in
//     minutes and is answered once: right or wrong, it is used up;
//   - a wrong answer never says which cell was wrong; consecutive failures
//     across challenges lock the card at the policy's MaxFailures, with a
//     warning to the customer (via the tenant) one attempt before.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// ChallengeView is an image challenge as the page shows it.
type ChallengeView struct {
	ID           string      `json:"id"`
	Cells        [2]string   `json:"cells"`
	Candidates   [2][]string `json:"candidates"`
	ExpiresAt    time.Time   `json:"expires_at"`
	AttemptsLeft int         `json:"attempts_left"`
}

// challengeSecret is what a challenge keeps sealed: the opaque ids, the
// pictures behind them, and the seed its images are rendered with.
type challengeSecret struct {
	IDs      [2][]string `json:"ids"`
	Pictures [2][]int    `json:"pictures"`
	Seed     []byte      `json:"seed"`
}

func challengeAAD(id string) []byte { return vault.AAD("txauth.challenge", id) }

// PageView is what the confirmation page shows.
type PageView struct {
	Confirmation string         `json:"confirmation"`
	Kind         Kind           `json:"kind"`
	State        State          `json:"state"`
	Held         bool           `json:"held"`
	ExpiresAt    time.Time      `json:"expires_at"`
	Required     []Factor       `json:"required"`
	Satisfied    []Factor       `json:"satisfied"`
	Transaction  *Transaction   `json:"transaction,omitempty"`
	Hash         string         `json:"transaction_hash"`
	CardSerial   string         `json:"card_serial,omitempty"`
	Challenge    *ChallengeView `json:"challenge,omitempty"`
}

// Page returns the page view of the confirmation named by the page token,
// with the current image challenge when one is due. Reloading returns the
// same challenge.
func (s *Service) Page(ctx context.Context, token string) (*PageView, error) {
	c, err := confirmationByToken(ctx, s.db, token)
	if err != nil {
		return nil, err
	}
	if err := s.expireIfDue(ctx, c); err != nil {
		return nil, err
	}
	return s.pageView(ctx, c)
}

func (s *Service) pageView(ctx context.Context, c *Confirmation) (*PageView, error) {
	var (
		v      *PageView
		card   *Card
		locked bool
	)
	// The view, its audit entry and the image challenge it shows (found or
	// made) commit together: one durable transaction per page view.
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if c.CardID != "" {
			if card, err = getCard(ctx, tx, c.TenantID, c.CardID); err != nil {
				return err
			}
		}
		if v, err = s.baseView(ctx, tx, c, card); err != nil {
			return err
		}
		if err := s.record(ctx, tx, pageActor, c.TenantID, "txauth.page.view", c.ID, audit.OutcomeOK, nil); err != nil {
			return err
		}
		if c.State.Final() || card == nil || !slices.Contains(c.Required, FactorImageCard) || slices.Contains(c.Satisfied, FactorImageCard) {
			return nil
		}
		if locked = card.Locked(); locked {
			return nil
		}
		v.Challenge, err = s.challenge(ctx, tx, c, card)
		return err
	})
	if err != nil {
		return nil, err
	}
	if locked {
		return v, fmt.Errorf("%w: the image card is locked", ErrLocked)
	}
	return v, nil
}

// baseView is what the page shows of c (the transaction as the server
// holds it, the card's serial), read in tx; the caller audits the read.
func (s *Service) baseView(ctx context.Context, tx *store.Tx, c *Confirmation, card *Card) (*PageView, error) {
	v := &PageView{Confirmation: c.ID, Kind: c.Kind, State: c.State, Held: c.Held, ExpiresAt: c.ExpiresAt,
		Required: c.Required, Satisfied: c.Satisfied, Hash: b64(c.TxHash[:])}
	if c.Kind == KindTransaction {
		t, err := s.openTransaction(ctx, tx, c)
		if err != nil {
			return nil, err
		}
		v.Transaction = t
	}
	if card != nil {
		v.CardSerial = card.Serial
	}
	return v, nil
}

// challenge returns the confirmation's open challenge, or makes one, in
// tx; card is the confirmation's card as read in tx (not locked).
func (s *Service) challenge(ctx context.Context, tx *store.Tx, c *Confirmation, card *Card) (*ChallengeView, error) {
	p, _, err := loadPolicy(ctx, tx, c.TenantID)
	if err != nil {
		return nil, err
	}
	cu, err := customerIn(ctx, tx, c.TenantID, c.CustomerID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	left := max(p.Card.MaxFailures-card.Failures, 0)
	var (
		id, cells string
		sealed    []byte
		expires   int64
	)
	err = tx.QueryRow(ctx, `SELECT id, cells, sealed, expires_at FROM txauth_challenges WHERE confirmation_id = ? AND state = 'open' AND expires_at > ?
		ORDER BY created_at DESC LIMIT 1`, c.ID, store.Micros(now)).Scan(&id, &cells, &sealed, &expires)
	if err == nil {
		body, err := s.cfg.Vault.Open(ctx, tx, cu.Subject(), challengeAAD(id), sealed)
		if err != nil {
			return nil, err
		}
		var sec challengeSecret
		if err := json.Unmarshal(body, &sec); err != nil {
			return nil, err
		}
		var labels [2]string
		copy(labels[:], strings.Split(cells, ","))
		return &ChallengeView{ID: id, Cells: labels, Candidates: sec.IDs, ExpiresAt: store.FromMicros(expires), AttemptsLeft: left}, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}

	var view *ChallengeView
	err = func() error {
		pair, err := s.pendingCells(ctx, tx, card)
		if err != nil {
			return err
		}
		lay, err := s.openLayout(ctx, tx, cu, card)
		if err != nil {
			return err
		}
		seed, err := s.random(32)
		if err != nil {
			return err
		}
		sec := challengeSecret{Seed: seed}
		for i, cell := range pair {
			sec.Pictures[i] = lay.candidates(cell, card.Candidates)
			for range sec.Pictures[i] {
				b, err := s.random(16)
				if err != nil {
					return err
				}
				sec.IDs[i] = append(sec.IDs[i], b64(b))
			}
		}
		if id, err = s.newID("ch_"); err != nil {
			return err
		}
		body, _ := json.Marshal(sec)
		if sealed, err = s.cfg.Vault.Seal(ctx, tx, cu.Subject(), challengeAAD(id), body); err != nil {
			return err
		}
		labels := [2]string{CellLabel(pair[0]), CellLabel(pair[1])}
		exp := now.Add(time.Duration(p.Card.ChallengeTTLSeconds) * time.Second)
		if exp.After(c.ExpiresAt) {
			exp = c.ExpiresAt
		}
		if _, err := tx.Exec(ctx, `INSERT INTO txauth_challenges (id, tenant_id, confirmation_id, card_id, cells, state, sealed, created_at, expires_at, answered_at)
			VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?, 0)`, id, c.TenantID, c.ID, card.ID, labels[0]+","+labels[1], sealed,
			store.Micros(now), store.Micros(exp)); err != nil {
			return err
		}
		view = &ChallengeView{ID: id, Cells: labels, Candidates: sec.IDs, ExpiresAt: exp, AttemptsLeft: left}
		return s.record(ctx, tx, pageActor, c.TenantID, "txauth.card.challenge", id, audit.OutcomeOK,
			map[string]string{"confirmation": c.ID, "card": card.ID, "cells": labels[0] + "," + labels[1]})
	}()
	return view, err
}

// pendingCells returns the two cells the card is being asked, choosing and
// storing a new pair (avoiding the recently asked cells) if none is pending.
func (s *Service) pendingCells(ctx context.Context, tx *store.Tx, card *Card) ([2]int, error) {
	if card.pendingCells != "" {
		a, b, _ := strings.Cut(card.pendingCells, ",")
		i, err1 := ParseCell(a)
		j, err2 := ParseCell(b)
		if err1 == nil && err2 == nil && i != j {
			return [2]int{i, j}, nil
		}
	}
	recent := map[int]bool{}
	for _, l := range strings.Split(card.recentCells, ",") {
		if i, err := ParseCell(l); err == nil {
			recent[i] = true
		}
	}
	perm, err := s.permutation(NumPictures)
	if err != nil {
		return [2]int{}, err
	}
	var pair []int
	for _, i := range perm {
		if !recent[i] {
			pair = append(pair, i)
		}
		if len(pair) == 2 {
			break
		}
	}
	res, err := tx.Exec(ctx, `UPDATE txauth_cards SET pending_cells = ?, version = version + 1 WHERE id = ? AND version = ?`,
		CellLabel(pair[0])+","+CellLabel(pair[1]), card.ID, card.version)
	if err != nil {
		return [2]int{}, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return [2]int{}, fmt.Errorf("%w: card changed concurrently", ErrState)
	}
	card.version++
	return [2]int{pair[0], pair[1]}, nil
}

// recentKeep is how many recently asked cells a new pair avoids.
const recentKeep = 10

// CandidateImage renders one candidate of an open challenge of the token's
// confirmation.
func (s *Service) CandidateImage(ctx context.Context, token, challengeID, candidate string) ([]byte, error) {
	c, err := confirmationByToken(ctx, s.db, token)
	if err != nil {
		return nil, err
	}
	if c.State.Final() {
		return nil, ErrToken
	}
	if !validID(challengeID) || len(candidate) != 22 {
		return nil, ErrNotFound
	}
	cu, err := s.customer(ctx, c.TenantID, c.CustomerID)
	if err != nil {
		return nil, err
	}
	var sealed []byte
	err = s.db.QueryRow(ctx, `SELECT sealed FROM txauth_challenges WHERE id = ? AND confirmation_id = ? AND state = 'open' AND expires_at > ?`,
		challengeID, c.ID, store.Micros(s.now())).Scan(&sealed)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	body, err := s.cfg.Vault.Open(ctx, s.db, cu.Subject(), challengeAAD(challengeID), sealed)
	if err != nil {
		return nil, err
	}
	var sec challengeSecret
	if err := json.Unmarshal(body, &sec); err != nil {
		return nil, err
	}
	for i := range sec.IDs {
		if k := slices.Index(sec.IDs[i], candidate); k >= 0 {
			return renderCandidate(sec.Pictures[i][k], sec.Seed, i*100+k)
		}
	}
	return nil, ErrNotFound
}

// AnswerError is a wrong image-card answer: how many attempts are left
// before the card locks (0 and Locked when it just locked).
type AnswerError struct {
	AttemptsLeft int
	Locked       bool
}

func (e *AnswerError) Error() string {
	return "txauth: wrong answer, " + strconv.Itoa(e.AttemptsLeft) + " attempt(s) left"
}

// Unwrap makes errors.Is(err, ErrWrongAnswer) true.
func (e *AnswerError) Unwrap() error { return ErrWrongAnswer }

// validCandidate reports whether s has the shape of a candidate id.
func validCandidate(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 16
}

// Answer checks the customer's picks (one candidate id per cell, in the
// order of the challenge's cells) for the challenge of the token's
// confirmation. The challenge is used up whatever the outcome; exactly one
// of concurrent answers counts. A wrong answer is an *AnswerError; the
// page asks for the challenge again (the same cells, new ids).
func (s *Service) Answer(ctx context.Context, token, challengeID string, picks [2]string) (*PageView, error) {
	if !validCandidate(picks[0]) || !validCandidate(picks[1]) {
		return nil, fmt.Errorf("%w: answer with one candidate id per cell", ErrInvalidInput)
	}
	c, err := confirmationByToken(ctx, s.db, token)
	if err != nil {
		return nil, err
	}
	if err := s.expireIfDue(ctx, c); err != nil {
		return nil, err
	}
	if c.State.Final() {
		return nil, fmt.Errorf("%w: the confirmation is %s", ErrState, c.State)
	}
	if !validID(challengeID) {
		return nil, ErrNotFound
	}
	p, _, err := loadPolicy(ctx, s.db, c.TenantID)
	if err != nil {
		return nil, err
	}
	cu, err := s.customer(ctx, c.TenantID, c.CustomerID)
	if err != nil {
		return nil, err
	}
	var (
		wrong   *AnswerError
		decided *PageView
	)
	err = s.inTx(ctx, func(tx *store.Tx) error {
		var (
			cardID, cells string
			sealed        []byte
			expires       int64
		)
		err := tx.QueryRow(ctx, `SELECT card_id, cells, sealed, expires_at FROM txauth_challenges WHERE id = ? AND confirmation_id = ?`,
			challengeID, c.ID).Scan(&cardID, &cells, &sealed, &expires)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		now := s.now()
		// Use the challenge up: only one answer can do this.
		res, err := tx.Exec(ctx, `UPDATE txauth_challenges SET state = 'used', answered_at = ? WHERE id = ? AND state = 'open' AND expires_at > ?`,
			store.Micros(now), challengeID, store.Micros(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			reason, e := "replayed", ErrReplay
			if !now.Before(store.FromMicros(expires)) {
				reason, e = "expired", ErrExpired
			}
			if err := s.record(ctx, tx, pageActor, c.TenantID, "txauth.card.answer", challengeID, audit.OutcomeDenied, map[string]string{"reason": reason}); err != nil {
				return err
			}
			return errCommit{e}
		}
		card, err := getCard(ctx, tx, c.TenantID, cardID)
		if err != nil {
			return err
		}
		usable := card.State == CardActive || (c.Kind == KindActivation && card.State == CardDelivered)
		if card.Locked() || !usable {
			if err := s.record(ctx, tx, pageActor, c.TenantID, "txauth.card.answer", challengeID, audit.OutcomeDenied,
				map[string]string{"reason": "card_" + string(card.State), "locked": fmt.Sprint(card.Locked())}); err != nil {
				return err
			}
			return errCommit{fmt.Errorf("%w: the card is %s", ErrLocked, card.State)}
		}
		body, err := s.cfg.Vault.Open(ctx, tx, cu.Subject(), challengeAAD(challengeID), sealed)
		if err != nil {
			return err
		}
		var sec challengeSecret
		if err := json.Unmarshal(body, &sec); err != nil {
			return err
		}
		lay, err := s.openLayout(ctx, tx, cu, card)
		if err != nil {
			return err
		}
		a, b, _ := strings.Cut(cells, ",")
		i0, err0 := ParseCell(a)
		i1, err1 := ParseCell(b)
		if err0 != nil || err1 != nil {
			return errors.New("txauth: stored challenge cells unreadable")
		}
		right := true
		for i, cell := range [2]int{i0, i1} {
			k := slices.Index(sec.IDs[i], picks[i])
			right = right && k >= 0 && sec.Pictures[i][k] == lay.Cells[cell]
		}
		if right {
			if err := s.rightAnswer(ctx, tx, c, card, challengeID, cells, now); err != nil {
				return err
			}
			// A decided confirmation's view is built here, covered by the
			// answer's audit entries: no second audited commit on the
			// decision path.
			fresh, err := getConfirmation(ctx, tx, c.TenantID, c.ID)
			if err != nil || !fresh.State.Final() {
				return err
			}
			decided, err = s.baseView(ctx, tx, fresh, card)
			return err
		}
		var err2 error
		wrong, err2 = s.wrongAnswer(ctx, tx, &p, c, card, challengeID, now)
		if err2 != nil {
			return err2
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if wrong != nil {
		return nil, wrong
	}
	if decided != nil {
		return decided, nil
	}
	fresh, err := getConfirmation(ctx, s.db, c.TenantID, c.ID)
	if err != nil {
		return nil, err
	}
	return s.pageView(ctx, fresh)
}

func (s *Service) rightAnswer(ctx context.Context, tx *store.Tx, c *Confirmation, card *Card, challengeID, cells string, now time.Time) error {
	recent := strings.Split(cells+","+card.recentCells, ",")
	recent = slices.DeleteFunc(recent, func(x string) bool { return x == "" })
	if len(recent) > recentKeep {
		recent = recent[:recentKeep]
	}
	if _, err := tx.Exec(ctx, `UPDATE txauth_cards SET failures = 0, pending_cells = '', recent_cells = ?, uses = uses + 1, version = version + 1 WHERE id = ?`,
		strings.Join(recent, ","), card.ID); err != nil {
		return err
	}
	if err := s.record(ctx, tx, pageActor, c.TenantID, "txauth.card.answer", challengeID, audit.OutcomeOK,
		map[string]string{"confirmation": c.ID, "card": card.ID}); err != nil {
		return err
	}
	if c.Kind == KindActivation {
		if err := s.activate(ctx, tx, card, now); err != nil {
			return err
		}
	}
	return s.satisfy(ctx, tx, c, FactorImageCard, pageActor)
}

func (s *Service) wrongAnswer(ctx context.Context, tx *store.Tx, p *Policy, c *Confirmation, card *Card, challengeID string, now time.Time) (*AnswerError, error) {
	if _, err := tx.Exec(ctx, `UPDATE txauth_cards SET failures = failures + 1, version = version + 1 WHERE id = ?`, card.ID); err != nil {
		return nil, err
	}
	var failures int
	if err := tx.QueryRow(ctx, `SELECT failures FROM txauth_cards WHERE id = ?`, card.ID).Scan(&failures); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO txauth_failures (tenant_id, card_id, at) VALUES (?, ?, ?)`, c.TenantID, card.ID, store.Micros(now)); err != nil {
		return nil, err
	}
	ae := &AnswerError{AttemptsLeft: max(p.Card.MaxFailures-failures, 0)}
	if err := s.record(ctx, tx, pageActor, c.TenantID, "txauth.card.answer", challengeID, audit.OutcomeDenied,
		map[string]string{"confirmation": c.ID, "card": card.ID, "failures": strconv.Itoa(failures), "reason": "wrong"}); err != nil {
		return nil, err
	}
	switch {
	case failures >= p.Card.MaxFailures:
		ae.Locked = true
		// Lock, and forget the pending cells: after an unlock the card is
		// asked a new pair (the failed guesses taught nothing about these).
		if _, err := tx.Exec(ctx, `UPDATE txauth_cards SET locked_at = ?, pending_cells = '' WHERE id = ?`, store.Micros(now), card.ID); err != nil {
			return nil, err
		}
		if err := s.record(ctx, tx, pageActor, c.TenantID, "txauth.card.lock", card.ID, audit.OutcomeOK, map[string]string{"failures": strconv.Itoa(failures)}); err != nil {
			return nil, err
		}
		if err := s.raise(ctx, tx, p, c.TenantID, c.CustomerID, c.ID, AlertCardLocked, "medium", map[string]string{"card": card.ID, "failures": strconv.Itoa(failures)}); err != nil {
			return nil, err
		}
		if p.Webhook != "" {
			if err := s.notice(ctx, tx, p.Webhook, c.TenantID, c.CustomerID, card.ID, NoticeCardLocked); err != nil {
				return nil, err
			}
		}
	case failures == p.Card.MaxFailures-1 && p.Webhook != "":
		if err := s.notice(ctx, tx, p.Webhook, c.TenantID, c.CustomerID, card.ID, NoticeCardWarning); err != nil {
			return nil, err
		}
	}
	return ae, s.detectGuessing(ctx, tx, p, c.TenantID, now)
}

// detectGuessing raises one card.guessing_spread alert per window when
// failures hit at least GuessAlertCards distinct cards of the tenant within
// GuessWindowSeconds: per-card lockout does not bound guessing spread over
// many accounts (api-security.md §3.5).
func (s *Service) detectGuessing(ctx context.Context, tx *store.Tx, p *Policy, tenant string, now time.Time) error {
	since := store.Micros(now.Add(-time.Duration(p.GuessWindowSeconds) * time.Second))
	var cards int
	if err := tx.QueryRow(ctx, `SELECT COUNT(DISTINCT card_id) FROM txauth_failures WHERE tenant_id = ? AND at > ?`, tenant, since).Scan(&cards); err != nil {
		return err
	}
	if cards < p.GuessAlertCards {
		return nil
	}
	var open int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM txauth_alerts WHERE tenant_id = ? AND kind = ? AND created_at > ?`,
		tenant, AlertGuessingSpread, since).Scan(&open); err != nil {
		return err
	}
	if open > 0 {
		return nil
	}
	return s.raise(ctx, tx, p, tenant, "", "", AlertGuessingSpread, "high",
		map[string]string{"cards": strconv.Itoa(cards), "window_seconds": strconv.Itoa(p.GuessWindowSeconds)})
}

// Mismatch is the customer's report that the transaction on the page is
// not what they meant (a different payee or amount): the confirmation is
// rejected, a high-severity MITB alert is raised and the tenant is told.
func (s *Service) Mismatch(ctx context.Context, token string) (*PageView, error) {
	c, err := confirmationByToken(ctx, s.db, token)
	if err != nil {
		return nil, err
	}
	if c.State.Final() {
		return nil, fmt.Errorf("%w: the confirmation is %s", ErrState, c.State)
	}
	p, _, err := loadPolicy(ctx, s.db, c.TenantID)
	if err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.raise(ctx, tx, &p, c.TenantID, c.CustomerID, c.ID, AlertMismatch, "high", map[string]string{"reported_by": "customer"}); err != nil {
			return err
		}
		if err := s.finish(ctx, tx, c, StateRejected, pageActor, map[string]string{"reason": "customer_mismatch"}); err != nil {
			return err
		}
		if p.Webhook != "" {
			return s.notice(ctx, tx, p.Webhook, c.TenantID, c.CustomerID, c.ID, NoticeMismatch)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.pageView(ctx, c)
}

// ErrNotDevelopment: a development-only operation on a production server.
var ErrNotDevelopment = errors.New("txauth: only a development server simulates a card holder")

// HolderPicks returns the candidate ids that the holder of the physical card
// would pick for the open challenge challengeID: what the development kit's
// simulated customer and the browser tests click. It is refused unless the
// service was built with Config.Development, is never reachable over HTTP,
// and is audited.
func (s *Service) HolderPicks(ctx context.Context, tenant, challengeID string) ([2]string, error) {
	var picks [2]string
	if !s.cfg.Development {
		return picks, ErrNotDevelopment
	}
	var (
		confID, cardID, cells string
		sealed                []byte
	)
	err := s.db.QueryRow(ctx, `SELECT confirmation_id, card_id, cells, sealed FROM txauth_challenges WHERE id = ? AND tenant_id = ?`,
		challengeID, tenant).Scan(&confID, &cardID, &cells, &sealed)
	if errors.Is(err, store.ErrNotFound) {
		return picks, ErrNotFound
	} else if err != nil {
		return picks, err
	}
	card, err := s.Card(ctx, tenant, cardID)
	if err != nil {
		return picks, err
	}
	cu, err := s.customer(ctx, tenant, card.CustomerID)
	if err != nil {
		return picks, err
	}
	body, err := s.cfg.Vault.Open(ctx, s.db, cu.Subject(), challengeAAD(challengeID), sealed)
	if err != nil {
		return picks, err
	}
	var sec challengeSecret
	if err := json.Unmarshal(body, &sec); err != nil {
		return picks, err
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		lay, err := s.openLayout(ctx, tx, cu, card)
		if err != nil {
			return err
		}
		for i, l := range strings.Split(cells, ",") {
			cell, err := ParseCell(l)
			if err != nil || i > 1 {
				return errors.New("txauth: stored challenge cells unreadable")
			}
			for k, p := range sec.Pictures[i] {
				if p == lay.Cells[cell] {
					picks[i] = sec.IDs[i][k]
				}
			}
		}
		return s.record(ctx, tx, System, tenant, "txauth.dev.holder_picks", challengeID, audit.OutcomeOK, map[string]string{"confirmation": confID})
	})
	return picks, err
}
