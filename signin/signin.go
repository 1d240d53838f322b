// Package signin is the production customer step of the authorization
// server: an oauth.CustomerAuthenticator backed by package txauth's
// factors and confirmation page. It adds no factor of its own; it opens a
// txauth confirmation for each OAuth interaction and accepts the
// interaction once that confirmation is confirmed.
//
// The flow at the authorization endpoint:
//
//  1. The consent page asks for the customer's reference (お客さま番号,
//     the tenant's own number for the person its eKYC verified). It is an
//     identifier, not a secret: what authenticates is the factor.
//  2. On Approve, Verify finds the customer and opens a confirmation: a
//     transfer in authorization_details (jp_bank_transfer) becomes a txauth
//     transaction (amount, payee, purpose: dynamic linking; the tenant's
//     risk policy picks the factors); without one, a sign-in confirmation
//     (txauth.KindSignIn) with the policy's SignIn factors, bound to a hash
//     of this interaction and the client. The page is shown again with a
//     link to txauth's confirmation page (opened in a new tab).
//  3. The customer completes the factors there (passkey, face, JPKI, the
//     registered device, the image card — whatever the policy requires)
//     and returns to press Approve again.
//  4. Verify accepts only if the confirmation is confirmed, of this
//     tenant, for this customer (and the one login_hint named), bound to
//     exactly the transfer or the sign-in of this interaction, the
//     customer's account is not locked, and it was not used before; the
//     interaction's binding is then spent.
//
// CIBA is the same on the customer's device, except that login_hint (the
// customer's reference) names the customer: the device page asks for no
// number, and the customer's first Approve (a POST) opens the
// confirmation. Showing a page (a GET, which a link preview or scanner
// also sends) never opens one.
//
// An interaction that ends without an approval ends its confirmation:
// Deny reaches EndStep, which cancels a pending confirmation and drops the
// binding; Sweep does the same for every unspent binding older than the
// longest interaction (oauth.InteractionTTL), whose interaction has
// therefore expired. Both are audited (oauth.signin.end).
//
// Invariants:
//   - One confirmation per interaction and one interaction per
//     confirmation (primary key and unique column); a binding is spent at
//     most once (used_at compare-and-set).
//   - A confirmation that ended unconfirmed (expired, rejected, cancelled)
//     refuses the attempt and frees the interaction for a new confirmation.
//   - The confirmation page's URL is sealed under the customer's data
//     subject; the interaction is stored only as a hash.
//   - A binding left unspent by an interaction that ended (denied,
//     expired) is dropped and its confirmation, if still pending,
//     cancelled; a confirmation never outlives its interaction pending.
//   - acr and amr are derived from the factors the confirmation satisfied
//     (ACR, AMR), never from what was asked.
package signin

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/internal/periodic"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/txauth"
	"github.com/madoguchi/madoguchi/vault"
)

// Confirmations is what signin needs of package txauth (*txauth.Service).
type Confirmations interface {
	Create(ctx context.Context, a txauth.Actor, tenant string, r txauth.Request) (*txauth.Created, error)
	CreateSignIn(ctx context.Context, a txauth.Actor, tenant, customer string, si txauth.SignIn) (*txauth.Created, error)
	Get(ctx context.Context, tenant, id string) (*txauth.Confirmation, error)
	Cancel(ctx context.Context, a txauth.Actor, tenant, id string) (*txauth.Confirmation, error)
	AccountLocked(ctx context.Context, tenant, customer string) (bool, error)
	Blocked(ctx context.Context, tenant, id string) (string, error)
}

// Customers is what signin needs of package ekyc (*ekyc.Service).
type Customers interface {
	Customer(ctx context.Context, tenant, id string) (*ekyc.Customer, error)
	CustomerByReference(ctx context.Context, tenant, reference string) (*ekyc.Customer, error)
}

// Sealer seals the confirmation URL under the customer's subject
// (*vault.Vault).
type Sealer interface {
	Seal(ctx context.Context, tx *store.Tx, s vault.SubjectRef, aad, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, q vault.Querier, s vault.SubjectRef, aad, ciphertext []byte) ([]byte, error)
}

// Auditor appends an audit entry in the caller's transaction (*audit.Log).
type Auditor interface {
	Append(ctx context.Context, tx *store.Tx, e audit.Entry) (uint64, error)
}

// Config wires an Authenticator; every field but Logger and Now is
// required.
type Config struct {
	DB            *store.DB
	Audit         Auditor
	Vault         Sealer
	Confirmations Confirmations
	Customers     Customers
	Logger        *slog.Logger
	Now           func() time.Time
}

// Authenticator is the production oauth.CustomerAuthenticator.
type Authenticator struct {
	cfg Config
}

var _ oauth.CustomerAuthenticator = (*Authenticator)(nil)

// New returns an Authenticator; it fails closed on a missing dependency.
func New(cfg Config) (*Authenticator, error) {
	if cfg.DB == nil || cfg.Audit == nil || cfg.Vault == nil || cfg.Confirmations == nil || cfg.Customers == nil {
		return nil, errors.New("signin: store, audit log, vault, transaction authentication and the customer directory are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Authenticator{cfg: cfg}, nil
}

// ACRValues implements oauth.CustomerAuthenticator.
func (a *Authenticator) ACRValues() []string { return []string{ACRCustomer, ACRMultiFactor, ACRLinked} }

// FieldCustomer is the form field of the customer's reference.
const FieldCustomer = "customer"

// Binding is the hash of an interaction a confirmation is bound to.
func Binding(interaction string) [32]byte {
	return sha256.Sum256([]byte("madoguchi/signin/v1\x00" + interaction))
}

func urlAAD(confirmation string) []byte { return vault.AAD("signin.confirm_url", confirmation) }

// row is an interaction's binding to its confirmation.
type row struct {
	tenant, client, customer, confirmation, kind string
	txHash, sealedURL                            []byte
	used                                         int64
}

func (a *Authenticator) load(ctx context.Context, step oauth.CustomerStep) (*row, error) {
	b := Binding(step.Interaction)
	r := &row{}
	err := a.cfg.DB.QueryRow(ctx, `SELECT tenant_id, client_id, customer_id, confirmation_id, kind, tx_hash, confirm_url, used_at
		FROM signin_confirmations WHERE interaction_hash = ?`, b[:]).Scan(&r.tenant, &r.client, &r.customer, &r.confirmation, &r.kind, &r.txHash, &r.sealedURL, &r.used)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return r, err
}

// Form implements oauth.CustomerAuthenticator.
func (a *Authenticator) Form(ctx context.Context, step oauth.CustomerStep) (oauth.CustomerForm, error) {
	r, err := a.load(ctx, step)
	if err != nil {
		return oauth.CustomerForm{}, err
	}
	if r != nil && r.tenant == step.TenantID && r.used == 0 {
		c, err := a.cfg.Confirmations.Get(ctx, step.TenantID, r.confirmation)
		if err != nil && !errors.Is(err, txauth.ErrNotFound) {
			return oauth.CustomerForm{}, err
		}
		if err == nil && (c.State == txauth.StatePending || c.State == txauth.StateConfirmed) {
			return a.linkForm(ctx, r, c.State)
		}
		// Ended unconfirmed: free the interaction for a new confirmation.
		if err := a.drop(ctx, step); err != nil {
			return oauth.CustomerForm{}, err
		}
		r = nil
	}
	if r == nil && step.LoginHint != "" {
		// CIBA: the client named the customer, but showing the page opens
		// nothing (a link preview or scanner fetches it too); the
		// customer's Approve opens the confirmation (Verify).
		return noticeStart, nil
	}
	if r != nil {
		return oauth.CustomerForm{}, nil // spent or another tenant's: Verify refuses
	}
	return oauth.CustomerForm{Fields: []oauth.FormField{{Name: FieldCustomer, Label: "お客さま番号 Customer number", Type: "text"}}}, nil
}

// noticeStart is what the CIBA device page says before the customer
// starts: Approve opens the confirmation.
var noticeStart = oauth.CustomerForm{Link: &oauth.FormLink{Text: "「許可する」を押すと、ご本人の確認のページへのリンクが表示されます。 Press Approve to start confirming it is you; a link to the confirmation page will appear."}}

// noticeCannotStart is what the page says when no confirmation can be
// shown (the customer is unknown, locked or erased; Verify refuses).
var noticeCannotStart = oauth.CustomerForm{Link: &oauth.FormLink{Text: "本人確認を始められませんでした。金融機関にお問い合わせください。 Verification could not start; contact your bank."}}

func (a *Authenticator) linkForm(ctx context.Context, r *row, st txauth.State) (oauth.CustomerForm, error) {
	cu, err := a.cfg.Customers.Customer(ctx, r.tenant, r.customer)
	if errors.Is(err, ekyc.ErrNotFound) || (err == nil && cu.Shredded()) {
		return noticeCannotStart, nil
	} else if err != nil {
		return oauth.CustomerForm{}, err
	}
	u, err := a.cfg.Vault.Open(ctx, a.cfg.DB, cu.Subject(), urlAAD(r.confirmation), r.sealedURL)
	if errors.Is(err, vault.ErrShredded) {
		return noticeCannotStart, nil
	} else if err != nil {
		return oauth.CustomerForm{}, err
	}
	text := "次のページでご本人の確認（パスキー・顔認証・マイナンバーカードなど）を済ませてから、この画面に戻って「許可する」を押してください。 Confirm it is you on the next page (passkey, face, My Number Card…), then come back and press Approve."
	if st == txauth.StateConfirmed {
		text = "確認が済みました。「許可する」を押してください。 Confirmed: press Approve."
	}
	return oauth.CustomerForm{Link: &oauth.FormLink{URL: string(u), Label: "本人確認のページを開く Open the confirmation page", Text: text}}, nil
}

// refuse is a customer-step failure: audited as denied, returned wrapping
// oauth.ErrCustomer. reason is a fixed word, never personal data.
func (a *Authenticator) refuse(ctx context.Context, step oauth.CustomerStep, object, reason string, cause error) error {
	err := a.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		return a.record(ctx, tx, step, "oauth.signin.refused", object, audit.OutcomeDenied, map[string]string{"reason": reason})
	})
	if err != nil {
		return err
	}
	if cause != nil {
		return fmt.Errorf("%w: %s: %v", oauth.ErrCustomer, reason, cause)
	}
	return fmt.Errorf("%w: %s", oauth.ErrCustomer, reason)
}

func (a *Authenticator) record(ctx context.Context, tx *store.Tx, step oauth.CustomerStep, action, object, outcome string, details map[string]string) error {
	if details == nil {
		details = map[string]string{}
	}
	details["client"] = step.ClientID
	_, err := a.cfg.Audit.Append(ctx, tx, audit.Entry{ActorKind: audit.ActorClient, ActorID: step.ClientID, TenantID: step.TenantID,
		Action: action, Object: object, Outcome: outcome, Details: details})
	return err
}

// open identifies the customer by reference and opens the interaction's
// confirmation. Failures the customer can cause wrap oauth.ErrCustomer.
func (a *Authenticator) open(ctx context.Context, step oauth.CustomerStep, reference string) error {
	if reference == "" || len(reference) > ekyc.MaxReferenceLen {
		return a.refuse(ctx, step, "", "no_reference", nil)
	}
	cu, err := a.cfg.Customers.CustomerByReference(ctx, step.TenantID, reference)
	if errors.Is(err, ekyc.ErrNotFound) {
		return a.refuse(ctx, step, "", "unknown_customer", nil)
	} else if err != nil {
		return err
	}
	if cu.Shredded() {
		return a.refuse(ctx, step, cu.ID, "customer_erased", nil)
	}
	t, err := Transaction(step.Details)
	if err != nil {
		return a.refuse(ctx, step, cu.ID, "transfer_not_confirmable", err)
	}
	actor := txauth.Actor{Kind: audit.ActorClient, ID: step.ClientID}
	var (
		created *txauth.Created
		kind    txauth.Kind
		hash    [32]byte
	)
	if t != nil {
		kind, hash = txauth.KindTransaction, t.Hash()
		created, err = a.cfg.Confirmations.Create(ctx, actor, step.TenantID, txauth.Request{Customer: cu.ID, Transaction: *t})
	} else {
		si := txauth.SignIn{Client: step.ClientID, Binding: Binding(step.Interaction)}
		kind, hash = txauth.KindSignIn, si.Hash()
		created, err = a.cfg.Confirmations.CreateSignIn(ctx, actor, step.TenantID, cu.ID, si)
	}
	switch {
	case errors.Is(err, txauth.ErrLocked):
		return a.refuse(ctx, step, cu.ID, "locked", err)
	case errors.Is(err, txauth.ErrFactor), errors.Is(err, txauth.ErrNoPolicy), errors.Is(err, txauth.ErrInvalidTransaction),
		errors.Is(err, txauth.ErrShredded), errors.Is(err, txauth.ErrNotFound):
		return a.refuse(ctx, step, cu.ID, "cannot_confirm", err)
	case err != nil:
		return err
	}
	b := Binding(step.Interaction)
	err = a.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		sealed, err := a.cfg.Vault.Seal(ctx, tx, cu.Subject(), urlAAD(created.Confirmation.ID), []byte(created.ConfirmURL))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO signin_confirmations (interaction_hash, tenant_id, client_id, customer_id, confirmation_id, kind,
			tx_hash, confirm_url, created_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
			b[:], step.TenantID, step.ClientID, cu.ID, created.Confirmation.ID, string(kind), hash[:], sealed, store.Micros(a.cfg.Now())); err != nil {
			return err
		}
		return a.record(ctx, tx, step, "oauth.signin.open", cu.ID, audit.OutcomeOK, map[string]string{"confirmation": created.Confirmation.ID, "kind": string(kind)})
	})
	if errors.Is(err, store.ErrConflict) {
		// Another request opened this interaction's confirmation first;
		// this one is not needed.
		if _, cerr := a.cfg.Confirmations.Cancel(ctx, actor, step.TenantID, created.Confirmation.ID); cerr != nil && !errors.Is(cerr, txauth.ErrState) {
			return cerr
		}
		return nil
	}
	return err
}

// drop frees an interaction whose confirmation ended unconfirmed.
func (a *Authenticator) drop(ctx context.Context, step oauth.CustomerStep) error {
	b := Binding(step.Interaction)
	_, err := a.cfg.DB.Exec(ctx, `DELETE FROM signin_confirmations WHERE interaction_hash = ? AND used_at = 0`, b[:])
	return err
}

// Verify implements oauth.CustomerAuthenticator.
func (a *Authenticator) Verify(ctx context.Context, step oauth.CustomerStep, form url.Values) (oauth.Authentication, error) {
	r, err := a.load(ctx, step)
	if err != nil {
		return oauth.Authentication{}, err
	}
	if r == nil {
		ref := form.Get(FieldCustomer)
		if step.LoginHint != "" {
			ref = step.LoginHint
		}
		if err := a.open(ctx, step, ref); err != nil {
			return oauth.Authentication{}, err
		}
		return oauth.Authentication{}, oauth.ErrCustomerPending
	}
	fail := func(reason string, cause error) (oauth.Authentication, error) {
		return oauth.Authentication{}, a.refuse(ctx, step, r.confirmation, reason, cause)
	}
	if r.tenant != step.TenantID || r.client != step.ClientID {
		return fail("other_interaction", nil)
	}
	if r.used != 0 {
		return fail("replay", nil)
	}
	cu, err := a.cfg.Customers.Customer(ctx, r.tenant, r.customer)
	if errors.Is(err, ekyc.ErrNotFound) {
		return fail("unknown_customer", nil)
	} else if err != nil {
		return oauth.Authentication{}, err
	}
	if cu.Shredded() {
		return fail("customer_erased", nil)
	}
	if step.LoginHint != "" && cu.Reference != step.LoginHint {
		return fail("not_the_named_customer", nil)
	}
	c, err := a.cfg.Confirmations.Get(ctx, step.TenantID, r.confirmation)
	if errors.Is(err, txauth.ErrNotFound) {
		return fail("other_tenant", nil)
	} else if err != nil {
		return oauth.Authentication{}, err
	}
	if c.TenantID != step.TenantID || c.CustomerID != r.customer {
		return fail("other_customer", nil)
	}
	// Dynamic linking: the confirmation must be bound to exactly what this
	// interaction asks for, recomputed from the interaction's request.
	kind, want, err := expected(step)
	if err != nil {
		return fail("transfer_not_confirmable", err)
	}
	if c.Kind != kind || c.TxHash != want || string(r.txHash) != string(want[:]) {
		return fail("not_bound_to_this_request", nil)
	}
	switch c.State {
	case txauth.StateConfirmed:
	case txauth.StatePending:
		// A factor it still needs locked (too many failed faces): it can
		// never complete. End it and say so, rather than show the same
		// page until the confirmation expires.
		blocked, err := a.cfg.Confirmations.Blocked(ctx, step.TenantID, r.confirmation)
		if err != nil {
			return oauth.Authentication{}, err
		}
		if blocked != "" {
			b := Binding(step.Interaction)
			if err := a.end(ctx, b[:], r, txauth.Actor{Kind: audit.ActorSystem, ID: "signin"}, blocked); err != nil {
				return oauth.Authentication{}, err
			}
			return fail(blocked, nil)
		}
		return oauth.Authentication{}, oauth.ErrCustomerPending
	default:
		if err := a.drop(ctx, step); err != nil {
			return oauth.Authentication{}, err
		}
		return fail("confirmation_"+string(c.State), nil)
	}
	if locked, err := a.cfg.Confirmations.AccountLocked(ctx, step.TenantID, r.customer); err != nil {
		return oauth.Authentication{}, err
	} else if locked {
		return fail("locked", nil)
	}
	auth := oauth.Authentication{Subject: c.CustomerID, ACR: ACR(c.Kind, c.Satisfied), AMR: AMR(c.Satisfied), AuthTime: c.DecidedAt}
	b := Binding(step.Interaction)
	var spent bool
	err = a.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE signin_confirmations SET used_at = ? WHERE interaction_hash = ? AND used_at = 0`, store.Micros(a.cfg.Now()), b[:])
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		spent = true
		return a.record(ctx, tx, step, "oauth.signin.complete", c.CustomerID, audit.OutcomeOK,
			map[string]string{"confirmation": c.ID, "acr": auth.ACR, "amr": fmt.Sprint(auth.AMR)})
	})
	if err != nil {
		return oauth.Authentication{}, err
	}
	if !spent {
		return fail("replay", nil)
	}
	return auth, nil
}

// Run sweeps every tick until ctx ends (serve runs it).
func (a *Authenticator) Run(ctx context.Context, every time.Duration) {
	periodic.Run(ctx, every, func(ctx context.Context) error { _, err := a.Sweep(ctx); return err },
		func(err error) { a.cfg.Logger.ErrorContext(ctx, "signin: sweeping bindings failed", "err", err) })
}

// expected is the confirmation kind and hash the interaction's request
// calls for.
func expected(step oauth.CustomerStep) (txauth.Kind, [32]byte, error) {
	t, err := Transaction(step.Details)
	if err != nil {
		return "", [32]byte{}, err
	}
	if t != nil {
		return txauth.KindTransaction, t.Hash(), nil
	}
	return txauth.KindSignIn, txauth.SignIn{Client: step.ClientID, Binding: Binding(step.Interaction)}.Hash(), nil
}

// ErrTransfer: the transfer in authorization_details cannot be confirmed
// as a txauth transaction.
var ErrTransfer = errors.New("signin: transfer cannot be confirmed")

// Transaction is the txauth transaction of the one jp_bank_transfer in
// details (nil if there is none): the amount, the payee's account and
// name (as katakana, the form the bank holds), the purpose; channel api.
// More than one transfer, a currency other than JPY, or a payee txauth
// cannot show is ErrTransfer: one confirmation confirms one transfer.
func Transaction(details []oauth.Detail) (*txauth.Transaction, error) {
	var t *txauth.Transaction
	for _, d := range details {
		if d.Type != oauth.DetailTransfer {
			continue
		}
		if t != nil {
			return nil, fmt.Errorf("%w: one transfer per authorization", ErrTransfer)
		}
		if d.Currency != "" && d.Currency != "JPY" {
			return nil, fmt.Errorf("%w: currency must be JPY", ErrTransfer)
		}
		if d.Payee == nil {
			return nil, fmt.Errorf("%w: no payee", ErrTransfer)
		}
		amount, err := strconv.ParseInt(d.Amount, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: amount", ErrTransfer)
		}
		t = &txauth.Transaction{
			AmountJPY: amount,
			Payee: txauth.Payee{BankCode: d.Payee.BankCode, BranchCode: d.Payee.BranchCode, AccountType: d.Payee.AccountType,
				AccountNumber: d.Payee.AccountNumber, NameKana: d.Payee.Name},
			Purpose: d.Purpose, Channel: "api",
		}
		if err := t.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrTransfer, err)
		}
	}
	return t, nil
}
