-- Customer sign-in at the authorization server (package signin): which
-- transaction-authentication confirmation completes which OAuth
-- interaction. The interaction is kept only as a domain-separated SHA-256;
-- the confirmation page's URL (a bearer capability) is sealed under the
-- customer's data subject. tx_hash is what the confirmation was bound to
-- (the transfer, or the sign-in body); used_at is set once, by the one
-- successful customer step.
CREATE TABLE signin_confirmations (
	interaction_hash BLOB   NOT NULL PRIMARY KEY,
	tenant_id        TEXT   NOT NULL,
	client_id        TEXT   NOT NULL,
	customer_id      TEXT   NOT NULL,
	confirmation_id  TEXT   NOT NULL UNIQUE,
	kind             TEXT   NOT NULL,
	tx_hash          BLOB   NOT NULL,
	confirm_url      BLOB   NOT NULL,
	created_at       BIGINT NOT NULL,
	used_at          BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX signin_confirmations_created ON signin_confirmations (created_at);
