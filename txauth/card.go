package txauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// CardState is an image card's place in its life:
//
//	issued ─▶ mailed ─▶ delivered ─▶ active ─▶ replaced (a newer card was activated)
//	   └────────┴──────────┴───────────┴──▶ revoked
type CardState string

// Card states.
const (
	CardIssued    CardState = "issued"    // made; printable once
	CardMailed    CardState = "mailed"    // sent by 本人限定受取郵便
	CardDelivered CardState = "delivered" // handed to the addressee in person
	CardActive    CardState = "active"    // activated by one correct answer
	CardReplaced  CardState = "replaced"
	CardRevoked   CardState = "revoked"
)

// Card geometry: rows A-E, columns 1-9 then 0, as printed.
const (
	CardRows = 5
	CardCols = 10
)

// CellLabel names cell index i (0-49): row letter and column digit, "A1"
// to "E0".
func CellLabel(i int) string {
	return string(rune('A'+i/CardCols)) + string(rune('0'+(i%CardCols+1)%10))
}

// ParseCell is CellLabel's inverse.
func ParseCell(s string) (int, error) {
	if len(s) != 2 || s[0] < 'A' || s[0] > 'E' || s[1] < '0' || s[1] > '9' {
		return 0, fmt.Errorf("%w: cell %q", ErrInvalidInput, s)
	}
	col := int(s[1]-'0'+9) % 10
	return int(s[0]-'A')*CardCols + col, nil
}

// Card is an image authentication card (no secret: the layout stays sealed).
type Card struct {
	ID          string
	TenantID    string
	CustomerID  string
	Serial      string
	State       CardState
	Candidates  int
	Failures    int
	LockedAt    time.Time
	Uses        int
	Tracking    string
	Replaces    string
	PrintedAt   time.Time
	IssuedAt    time.Time
	MailedAt    time.Time
	DeliveredAt time.Time
	ActivatedAt time.Time
	EndedAt     time.Time

	pendingCells string
	recentCells  string
	version      int
}

// Locked reports whether the card is locked after too many failures.
func (c *Card) Locked() bool { return !c.LockedAt.IsZero() }

// layout is a card's secret: which picture is in each cell, and the seed of
// its fixed candidate sets. It is sealed under the customer's subject.
type layout struct {
	Cells [NumPictures]int `json:"cells"`
	Seed  []byte           `json:"seed"`
}

func cardAAD(id string) []byte { return vault.AAD("txauth.card", id) }

const cardCols = `id, tenant_id, customer_id, serial, state, candidates, failures, locked_at, pending_cells, recent_cells, uses,
	tracking, replaces, printed_at, issued_at, mailed_at, delivered_at, activated_at, ended_at, version`

func scanCard(row interface{ Scan(...any) error }) (*Card, error) {
	var (
		c                                                          Card
		state                                                      string
		locked, printed, issued, mailed, delivered, activated, end int64
	)
	err := row.Scan(&c.ID, &c.TenantID, &c.CustomerID, &c.Serial, &state, &c.Candidates, &c.Failures, &locked, &c.pendingCells,
		&c.recentCells, &c.Uses, &c.Tracking, &c.Replaces, &printed, &issued, &mailed, &delivered, &activated, &end, &c.version)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	c.State = CardState(state)
	c.LockedAt, c.PrintedAt, c.IssuedAt, c.MailedAt = store.FromMicros(locked), store.FromMicros(printed), store.FromMicros(issued), store.FromMicros(mailed)
	c.DeliveredAt, c.ActivatedAt, c.EndedAt = store.FromMicros(delivered), store.FromMicros(activated), store.FromMicros(end)
	return &c, nil
}

// Card returns the tenant's card id.
func (s *Service) Card(ctx context.Context, tenant, id string) (*Card, error) {
	return getCard(ctx, s.db, tenant, id)
}

func getCard(ctx context.Context, q rowQuerier, tenant, id string) (*Card, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	return scanCard(q.QueryRow(ctx, `SELECT `+cardCols+` FROM txauth_cards WHERE id = ? AND tenant_id = ?`, id, tenant))
}

// cardInState returns the customer's card in one of states, newest first.
func cardInState(ctx context.Context, q rowQuerier, tenant, customer string, states ...CardState) (*Card, error) {
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(states)), ", ")
	args := []any{tenant, customer}
	for _, st := range states {
		args = append(args, string(st))
	}
	return scanCard(q.QueryRow(ctx, `SELECT `+cardCols+` FROM txauth_cards WHERE tenant_id = ? AND customer_id = ? AND state IN (`+ph+`)
		ORDER BY issued_at DESC LIMIT 1`, args...))
}

// IssueCard makes a new card for the customer: a random arrangement of the
// 50 pictures, sealed under the customer's subject, with a new serial. A
// customer with an active card gets a replacement (reissue): the old card
// keeps working until the new one is activated. A customer may have only one
// card on its way (issued, mailed or delivered) at a time.
func (s *Service) IssueCard(ctx context.Context, a Actor, tenant, customerID string) (*Card, error) {
	cu, err := s.customer(ctx, tenant, customerID)
	if err != nil {
		return nil, err
	}
	p, _, err := loadPolicy(ctx, s.db, tenant)
	if err != nil {
		return nil, err
	}
	id, err := s.newID("card_")
	if err != nil {
		return nil, err
	}
	seed, err := s.random(32)
	if err != nil {
		return nil, err
	}
	var lay layout
	lay.Seed = seed
	perm, err := s.permutation(NumPictures)
	if err != nil {
		return nil, err
	}
	copy(lay.Cells[:], perm)
	body, err := json.Marshal(lay)
	if err != nil {
		return nil, err
	}
	serialBytes, err := s.random(8)
	if err != nil {
		return nil, err
	}
	serial := serialOf(serialBytes)
	now := s.now()
	c := &Card{ID: id, TenantID: tenant, CustomerID: customerID, Serial: serial, State: CardIssued, Candidates: p.Card.Candidates,
		IssuedAt: now, version: 1}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := cardInState(ctx, tx, tenant, customerID, CardIssued, CardMailed, CardDelivered); err == nil {
			return fmt.Errorf("%w: the customer already has a card on its way; revoke it first", ErrState)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if old, err := cardInState(ctx, tx, tenant, customerID, CardActive); err == nil {
			c.Replaces = old.ID
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		sealed, err := s.cfg.Vault.Seal(ctx, tx, cu.Subject(), cardAAD(id), body)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO txauth_cards (id, tenant_id, customer_id, serial, state, layout, candidates, failures,
			locked_at, pending_cells, recent_cells, uses, tracking, replaces, printed_at, issued_at, mailed_at, delivered_at, activated_at, ended_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, '', '', 0, '', ?, 0, ?, 0, 0, 0, 0, 1)`,
			id, tenant, customerID, serial, string(CardIssued), sealed, c.Candidates, c.Replaces, store.Micros(now)); err != nil {
			return err
		}
		return s.record(ctx, tx, a, tenant, "txauth.card.issue", id, audit.OutcomeOK,
			map[string]string{"customer": customerID, "serial": serial, "replaces": c.Replaces})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// serialOf formats 8 random bytes as a card serial "MDG-XXXX-XXXX-XXXX"
// (Crockford-style alphabet without I, L, O, U).
func serialOf(b []byte) string {
	const alpha = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	v := binary.BigEndian.Uint64(b)
	out := make([]byte, 0, 18)
	out = append(out, "MDG"...)
	for i := range 12 {
		if i%4 == 0 {
			out = append(out, '-')
		}
		out = append(out, alpha[v&31])
		v >>= 5
	}
	return string(out)
}

// permutation returns a uniformly random permutation of 0..n-1 from the
// service's randomness.
func (s *Service) permutation(n int) ([]int, error) {
	seed, err := s.random(32)
	if err != nil {
		return nil, err
	}
	return rand.New(rand.NewChaCha8([32]byte(seed))).Perm(n), nil
}

// openLayout opens a card's sealed layout.
func (s *Service) openLayout(ctx context.Context, q interface {
	rowQuerier
	vault.Querier
}, cu *ekyc.Customer, c *Card) (*layout, error) {
	var sealed []byte
	if err := q.QueryRow(ctx, `SELECT layout FROM txauth_cards WHERE id = ?`, c.ID).Scan(&sealed); err != nil {
		return nil, err
	}
	body, err := s.cfg.Vault.Open(ctx, q, cu.Subject(), cardAAD(c.ID), sealed)
	if errors.Is(err, vault.ErrShredded) {
		return nil, ErrShredded
	} else if err != nil {
		return nil, err
	}
	return decodeLayout(body)
}

// decodeLayout parses an opened card layout: a 32-byte seed and the cells
// holding each of the NumPictures pictures exactly once.
func decodeLayout(body []byte) (*layout, error) {
	var lay layout
	if err := json.Unmarshal(body, &lay); err != nil || len(lay.Seed) != 32 {
		return nil, errors.New("txauth: stored card layout unreadable")
	}
	seen := [NumPictures]bool{}
	for _, p := range lay.Cells {
		if p < 0 || p >= NumPictures || seen[p] {
			return nil, errors.New("txauth: stored card layout is not a permutation")
		}
		seen[p] = true
	}
	return &lay, nil
}

// candidates returns the fixed candidate set of a cell: the cell's picture
// and k-1 decoys, in a fixed order, all derived from the card's sealed seed.
// The same cell always shows the same pictures in the same order, so
// watching repeated challenges of a cell (or intersecting them) narrows the
// answer to no fewer than k pictures.
func (lay *layout) candidates(cell, k int) []int {
	m := hmac.New(sha256.New, lay.Seed)
	fmt.Fprintf(m, "madoguchi/txauth/candidates/v1/%d", cell)
	r := rand.New(rand.NewChaCha8([32]byte(m.Sum(nil))))
	answer := lay.Cells[cell]
	others := make([]int, 0, NumPictures-1)
	for p := range NumPictures {
		if p != answer {
			others = append(others, p)
		}
	}
	r.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	set := append([]int{answer}, others[:k-1]...)
	r.Shuffle(len(set), func(i, j int) { set[i], set[j] = set[j], set[i] })
	return set
}

// cardChange moves a card to state to (if it is in one of from), setting
// its time column, with an audit entry.
func (s *Service) cardChange(ctx context.Context, a Actor, tenant, id string, to CardState, col string, from []CardState, details map[string]string, extra string, args ...any) (*Card, error) {
	var out *Card
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		c, err := getCard(ctx, tx, tenant, id)
		if err != nil {
			return err
		}
		ok := false
		for _, f := range from {
			ok = ok || c.State == f
		}
		if !ok {
			return fmt.Errorf("%w: card is %s", ErrState, c.State)
		}
		now := s.now()
		q := `UPDATE txauth_cards SET state = ?, ` + col + ` = ?, version = version + 1` + extra + ` WHERE id = ? AND version = ?`
		all := append([]any{string(to), store.Micros(now)}, args...)
		all = append(all, c.ID, c.version)
		res, err := tx.Exec(ctx, q, all...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: card changed concurrently", ErrState)
		}
		if details == nil {
			details = map[string]string{}
		}
		details["from"], details["to"] = string(c.State), string(to)
		if err := s.record(ctx, tx, a, tenant, "txauth.card."+string(to), c.ID, audit.OutcomeOK, details); err != nil {
			return err
		}
		out, err = getCard(ctx, tx, tenant, id)
		return err
	})
	return out, err
}

// MaxTrackingLen bounds a postal tracking number.
const MaxTrackingLen = 32

// MarkMailed records that the card was sent by 本人限定受取郵便 (mail
// handed only to the addressee, on proof of identity) with its tracking
// number. Printing is refused from then on.
func (s *Service) MarkMailed(ctx context.Context, a Actor, tenant, id, tracking string) (*Card, error) {
	if tracking == "" || len(tracking) > MaxTrackingLen || strings.IndexFunc(tracking, func(r rune) bool { return !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r == '-') }) >= 0 {
		return nil, fmt.Errorf("%w: tracking must be 1-%d of 0-9, A-Z or -", ErrInvalidInput, MaxTrackingLen)
	}
	return s.cardChange(ctx, a, tenant, id, CardMailed, "mailed_at", []CardState{CardIssued}, nil, ", tracking = ?", tracking)
}

// MarkDelivered records that the post office handed the card to the
// addressee. Only then can it be activated.
func (s *Service) MarkDelivered(ctx context.Context, a Actor, tenant, id string) (*Card, error) {
	return s.cardChange(ctx, a, tenant, id, CardDelivered, "delivered_at", []CardState{CardMailed}, nil, "")
}

// RevokeCard ends a card at once (lost, stolen, returned undelivered). A
// confirmation cannot use it any more.
func (s *Service) RevokeCard(ctx context.Context, a Actor, tenant, id, reason string) (*Card, error) {
	if !displayText(reason, 64) || reason == "" {
		return nil, fmt.Errorf("%w: reason must be 1-64 printable characters", ErrInvalidInput)
	}
	return s.cardChange(ctx, a, tenant, id, CardRevoked, "ended_at",
		[]CardState{CardIssued, CardMailed, CardDelivered, CardActive}, map[string]string{"reason": reason}, "")
}

// activate makes the delivered card c active inside tx: the card it
// replaces ends, and the legacy method is refused for the customer from now.
func (s *Service) activate(ctx context.Context, tx *store.Tx, c *Card, now time.Time) error {
	res, err := tx.Exec(ctx, `UPDATE txauth_cards SET state = ?, activated_at = ?, version = version + 1 WHERE id = ? AND state = ?`,
		string(CardActive), store.Micros(now), c.ID, string(CardDelivered))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("%w: card is no longer delivered", ErrState)
	}
	if _, err := tx.Exec(ctx, `UPDATE txauth_cards SET state = ?, ended_at = ?, version = version + 1
		WHERE tenant_id = ? AND customer_id = ? AND state = ? AND id <> ?`,
		string(CardReplaced), store.Micros(now), c.TenantID, c.CustomerID, string(CardActive), c.ID); err != nil {
		return err
	}
	if err := s.ensureAccount(ctx, tx, c.TenantID, c.CustomerID); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE txauth_accounts SET legacy_refused_at = ? WHERE tenant_id = ? AND customer_id = ? AND legacy_refused_at = 0`,
		store.Micros(now), c.TenantID, c.CustomerID); err != nil {
		return err
	}
	return s.record(ctx, tx, pageActor, c.TenantID, "txauth.card.active", c.ID, audit.OutcomeOK,
		map[string]string{"customer": c.CustomerID, "replaces": c.Replaces, "legacy": "refused"})
}

// ensureAccount creates the customer's account row if there is none
// (concurrent first uses both succeed: the second insert does nothing).
func (s *Service) ensureAccount(ctx context.Context, tx *store.Tx, tenant, customer string) error {
	_, err := tx.Exec(ctx, `INSERT INTO txauth_accounts (tenant_id, customer_id, legacy_refused_at, locked_at, locked_by) VALUES (?, ?, 0, 0, '')
		ON CONFLICT DO NOTHING`, tenant, customer)
	return err
}

// account returns the customer's txauth state (zero times if none).
func account(ctx context.Context, q rowQuerier, tenant, customer string) (legacyRefused, locked time.Time, err error) {
	var lr, lk int64
	err = q.QueryRow(ctx, `SELECT legacy_refused_at, locked_at FROM txauth_accounts WHERE tenant_id = ? AND customer_id = ?`, tenant, customer).Scan(&lr, &lk)
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, time.Time{}, nil
	}
	return store.FromMicros(lr), store.FromMicros(lk), err
}

// PrintCard returns the printable PDF of an issued card (front and back at
// print resolution). Printing is allowed only before the card is mailed;
// every print is audited.
func (s *Service) PrintCard(ctx context.Context, a Actor, tenant, id string) ([]byte, error) {
	c, err := s.Card(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if c.State != CardIssued {
		return nil, fmt.Errorf("%w: a card is printed only before it is mailed (card is %s)", ErrState, c.State)
	}
	cu, err := s.customer(ctx, tenant, c.CustomerID)
	if err != nil {
		return nil, err
	}
	var pdf []byte
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		lay, err := s.openLayout(ctx, tx, cu, c)
		if err != nil {
			return err
		}
		front, err := renderCardFront(lay, c.Serial)
		if err != nil {
			return err
		}
		if pdf, err = cardPDF(front, c.Serial); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE txauth_cards SET printed_at = ? WHERE id = ?`, store.Micros(s.now()), c.ID); err != nil {
			return err
		}
		return s.record(ctx, tx, a, tenant, "txauth.card.print", c.ID, audit.OutcomeOK, map[string]string{"customer": c.CustomerID})
	})
	return pdf, err
}
