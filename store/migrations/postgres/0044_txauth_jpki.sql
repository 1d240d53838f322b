-- JPKI factors of a confirmation (package txauth, jpki.go): the bytes the
-- card signs (for jpki_auth, eKYC's re-authentication challenge id), spent
-- by the first answer, and the verified signature kept as evidence (sealed
-- under the customer's subject).
CREATE TABLE txauth_jpki (
	id              TEXT   PRIMARY KEY,
	tenant_id       TEXT   NOT NULL,
	confirmation_id TEXT   NOT NULL REFERENCES txauth_confirmations (id),
	usage           TEXT   NOT NULL,
	ekyc_challenge  TEXT   NOT NULL,
	challenge       BYTEA   NOT NULL,
	expires_at      BIGINT NOT NULL,
	used_at         BIGINT NOT NULL,
	evidence        BYTEA   NOT NULL
);
CREATE INDEX txauth_jpki_confirmation ON txauth_jpki (confirmation_id);
