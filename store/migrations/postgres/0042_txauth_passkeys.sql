-- Passkeys (package txauth, passkey.go): WebAuthn credentials a customer
-- registered after eKYC approval, sealed under the customer's subject (the
-- credential id is kept in clear to find it), and the state of each
-- confirmation's WebAuthn ceremony (sealed, spent by the first answer).
CREATE TABLE txauth_passkeys (
	id            TEXT   PRIMARY KEY,
	tenant_id     TEXT   NOT NULL REFERENCES tenants (id),
	customer_id   TEXT   NOT NULL REFERENCES customers (id),
	credential_id BYTEA   NOT NULL,
	sealed        BYTEA   NOT NULL,
	created_at    BIGINT NOT NULL,
	last_used_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX txauth_passkeys_credential ON txauth_passkeys (tenant_id, credential_id);
CREATE INDEX txauth_passkeys_customer ON txauth_passkeys (tenant_id, customer_id);

CREATE TABLE txauth_webauthn (
	confirmation_id TEXT   PRIMARY KEY REFERENCES txauth_confirmations (id),
	tenant_id       TEXT   NOT NULL,
	sealed          BYTEA   NOT NULL,
	created_at      BIGINT NOT NULL
);
