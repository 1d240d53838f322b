package web

// Customers (package ekyc, customer.go): a relying service names the
// person an approved eKYC session verified with its own reference; every
// later authenticator (package txauth) hangs on that customer. Scope
// ekyc:sessions, tenant-confined.

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
)

// CustomerService is what the customer routes need from *ekyc.Service.
type CustomerService interface {
	CreateCustomer(ctx context.Context, a ekyc.Actor, tenant, session, reference string) (*ekyc.Customer, error)
	Customer(ctx context.Context, tenant, id string) (*ekyc.Customer, error)
}

var _ CustomerService = (*ekyc.Service)(nil)

func (s *Server) customerRoutes() {
	if s.cfg.Customers == nil || s.cfg.Auth == nil {
		return
	}
	s.mux.Handle("POST /v1/customers", s.authed(ScopeEKYCSessions, s.customerCreate))
	s.mux.Handle("GET /v1/customers/{id}", s.authed(ScopeEKYCSessions, s.customerGet))
}

type customerJSON struct {
	ID         string     `json:"id"`
	Reference  string     `json:"reference"`
	Session    string     `json:"session"`
	Method     string     `json:"method_code"`
	VerifiedAt time.Time  `json:"verified_at"`
	CreatedAt  time.Time  `json:"created_at"`
	ShreddedAt *time.Time `json:"erased_at,omitempty"`
}

func toCustomerJSON(c *ekyc.Customer) customerJSON {
	j := customerJSON{ID: c.ID, Reference: c.Reference, Session: c.SessionID, Method: c.Method, VerifiedAt: c.VerifiedAt, CreatedAt: c.CreatedAt}
	if c.Shredded() {
		t := c.ShreddedAt
		j.ShreddedAt = &t
	}
	return j
}

func (s *Server) customerCreate(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Session   string `json:"session"`
		Reference string `json:"reference"`
	}
	if err := decodeJSON(w, r, DefaultMaxBody, &in); err != nil {
		return err
	}
	p, a := clientActor(r)
	c, err := s.cfg.Customers.CreateCustomer(r.Context(), a, p.TenantID, in.Session, in.Reference)
	if errors.Is(err, ekyc.ErrShredded) {
		return newProblem(http.StatusGone, "ekyc-erased", "Erased", "The retention period has ended and this data was erased.").withCause(err)
	} else if err != nil {
		return ekycProblem(err)
	}
	writeJSON(w, http.StatusCreated, toCustomerJSON(c))
	return nil
}

func (s *Server) customerGet(w http.ResponseWriter, r *http.Request) error {
	p, _ := clientActor(r)
	c, err := s.cfg.Customers.Customer(r.Context(), p.TenantID, r.PathValue("id"))
	if err != nil {
		return ekycProblem(err)
	}
	writeJSON(w, http.StatusOK, toCustomerJSON(c))
	return nil
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
