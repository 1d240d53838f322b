-- Customers (package ekyc, customer.go): a tenant's person whom an approved
-- eKYC session verified, named by the tenant's own reference. The customer
-- is the session's data subject: everything enrolled for the customer later
-- (image cards, passkeys, devices, templates in package txauth) is sealed
-- under that subject, so shredding the subject removes all of it.
CREATE TABLE customers (
	id          TEXT   PRIMARY KEY,
	tenant_id   TEXT   NOT NULL REFERENCES tenants (id),
	reference   TEXT   NOT NULL,
	session_id  TEXT   NOT NULL REFERENCES ekyc_sessions (id),
	subject     TEXT   NOT NULL,
	method      TEXT   NOT NULL,
	verified_at BIGINT NOT NULL,
	created_at  BIGINT NOT NULL,
	shredded_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX customers_reference ON customers (tenant_id, reference);
CREATE UNIQUE INDEX customers_session ON customers (session_id);
CREATE INDEX customers_subject ON customers (tenant_id, subject);
