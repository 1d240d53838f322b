package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"
)

// Authentication is the outcome of a customer step: who the customer is
// within the tenant and how they authenticated.
type Authentication struct {
	// Subject identifies the customer within the tenant; it becomes the
	// ID token's sub and the consent's subject.
	Subject  string
	ACR      string
	AMR      []string
	AuthTime time.Time
}

// CustomerStep is the context of one customer authentication: the page
// (authorization endpoint or CIBA device page) asks the authenticator what
// to collect, then hands it what the customer submitted.
type CustomerStep struct {
	TenantID string
	ClientID string
	// Interaction is an opaque, unguessable id of this interaction; a
	// factor binds its challenge to it (a passkey assertion or a face
	// capture for one interaction cannot complete another).
	Interaction string
	// LoginHint is the customer the client named (CIBA), "" at the
	// authorization endpoint.
	LoginHint string
	// Details are what the customer approves; for a transfer the factor
	// must confirm amount and payee (dynamic linking).
	Details        []Detail
	BindingMessage string
	ACRValues      []string
}

// CustomerForm tells the page what to collect.
type CustomerForm struct {
	// Fields are inputs rendered in the consent form and posted back.
	Fields []FormField
	// Challenge, if set, is embedded in the page as JSON
	// (<script type="application/json" id="customer-challenge">), for a
	// factor's script to use (WebAuthn request options, a JPKI nonce).
	Challenge json.RawMessage
	// ScriptURL, if set, is a same-origin script the page loads to run the
	// factor in the browser; it writes its result into the Fields.
	ScriptURL string
	// Link, if set, is a page where the customer completes the factor
	// (opened in a new tab: the consent page stays, and its Approve
	// button then submits the form).
	Link *FormLink
}

// FormLink is a link the customer step shows.
type FormLink struct {
	URL   string
	Label string
	// Text explains the step next to the link.
	Text string
}

// FormField is one input of the customer step.
type FormField struct {
	Name  string
	Label string
	Type  string // text, hidden
}

// CustomerAuthenticator authenticates a tenant's verified customer (a
// person an approved eKYC session verified) with a passkey, face
// re-authentication or JPKI. Package signin is the production one (over
// package txauth's factors and confirmation page); DevCustomers is the
// development stand-in.
//
// Verify must be a complete check: it returns ErrCustomer (wrapped) for
// every failure, ErrCustomerPending while the customer has a step left
// (the page is shown again with the next Form, without an error), consumes whatever challenge it issued for the
// interaction (a second Verify of the same answer fails), and for a
// transfer binds its confirmation to the amount and payee in
// step.Details.
type CustomerAuthenticator interface {
	// ACRValues lists the acr values Verify can produce (published in
	// discovery).
	ACRValues() []string
	// Form returns what the page must collect for step.
	Form(ctx context.Context, step CustomerStep) (CustomerForm, error)
	// Verify authenticates the customer from the submitted form.
	Verify(ctx context.Context, step CustomerStep, form url.Values) (Authentication, error)
}

// CustomerStepEnder is implemented by a CustomerAuthenticator that holds
// something open for an interaction (package signin: a txauth
// confirmation). The server calls EndStep after the customer declines, so
// nothing stays open for an interaction that is over; reason is a fixed
// word ("denied"). An interaction that expires is not reported (the
// server keeps only a hash of its id): the authenticator ends what it
// holds once InteractionTTL has passed.
type CustomerStepEnder interface {
	EndStep(ctx context.Context, step CustomerStep, reason string) error
}

// endStep tells the customer step that the interaction ended with a
// denial. The decision stands whatever happens here (it is committed, and
// the authenticator's own sweep is the backstop), so a failure is logged.
func (s *Server) endStep(ctx context.Context, ix *interaction, id string) {
	e, ok := s.cfg.Customers.(CustomerStepEnder)
	if !ok {
		return
	}
	if err := e.EndStep(ctx, s.step(ix, id), "denied"); err != nil {
		s.log.ErrorContext(ctx, "oauth: ending the customer step after a denial failed", "err", err)
	}
}

// ErrCustomerPending: the customer step is under way (a factor left to
// complete); not a failure. The page shows the next Form without an error.
var ErrCustomerPending = errors.New("oauth: customer step continues")

// ACRDev is the acr of the development customer step: no real factor.
const ACRDev = "urn:madoguchi:acr:dev"

// DevCustomers completes the customer step in development: the customer
// types their reference within the tenant and is taken at their word. It
// exists so tests and the README can run a full flow; NewDevCustomers
// refuses to build one for a production server.
type DevCustomers struct{}

var devRefRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// NewDevCustomers returns the development customer step, or an error in
// production.
func NewDevCustomers(production bool) (*DevCustomers, error) {
	if production {
		return nil, errors.New("oauth: the development customer step is refused in production; wire a real customer authenticator (txauth)")
	}
	return &DevCustomers{}, nil
}

// ACRValues implements CustomerAuthenticator.
func (DevCustomers) ACRValues() []string { return []string{ACRDev} }

// Form implements CustomerAuthenticator: one text field, the customer
// reference.
func (DevCustomers) Form(ctx context.Context, step CustomerStep) (CustomerForm, error) {
	return CustomerForm{Fields: []FormField{{Name: "customer", Label: "お客さま番号 Customer reference (development only)", Type: "text"}}}, nil
}

// Verify implements CustomerAuthenticator.
func (DevCustomers) Verify(ctx context.Context, step CustomerStep, form url.Values) (Authentication, error) {
	ref := form.Get("customer")
	if !devRefRE.MatchString(ref) {
		return Authentication{}, fmt.Errorf("%w: customer reference must be 1-64 of [A-Za-z0-9._-]", ErrCustomer)
	}
	if step.LoginHint != "" && ref != step.LoginHint {
		return Authentication{}, fmt.Errorf("%w: not the customer the client named", ErrCustomer)
	}
	return Authentication{Subject: ref, ACR: ACRDev, AMR: []string{"dev"}, AuthTime: time.Now()}, nil
}
