-- JPKI (公的個人認証), method ワ and re-authentication.

-- Challenge nonces spent by an accepted signature (SHA-256 of the nonce):
-- a challenge is accepted once across every instance sharing the store.
-- Rows are pruned once expires_at has passed (the challenge is dead then).
CREATE TABLE jpki_nonces (
	nonce_hash BYTEA  PRIMARY KEY,
	expires_at BIGINT NOT NULL
);
CREATE INDEX jpki_nonces_expiry ON jpki_nonces (expires_at);

-- Challenges issued to a card: for an eKYC session (purpose ekyc, or ekyc-link
-- when the onboarding also links the user-authentication certificate), or
-- for a tenant's re-authentication (session_id ''). The bytes are exactly
-- what the card signs; they carry no personal data.
CREATE TABLE jpki_challenges (
	id         TEXT   PRIMARY KEY,
	tenant_id  TEXT   NOT NULL,
	session_id TEXT   NOT NULL,
	purpose    TEXT   NOT NULL,
	challenge  BYTEA  NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX jpki_challenges_session ON jpki_challenges (session_id, purpose);
CREATE INDEX jpki_challenges_expiry ON jpki_challenges (expires_at);

-- The verification of a ワ session's signature: the outcome and reasons
-- (no personal data) in clear, the signed bytes, certificate chain,
-- revocation evidence and claims sealed under the session's subject.
CREATE TABLE ekyc_jpki (
	session_id  TEXT    PRIMARY KEY REFERENCES ekyc_sessions (id),
	tenant_id   TEXT    NOT NULL,
	source      TEXT    NOT NULL,
	verified    INTEGER NOT NULL,
	reasons     TEXT    NOT NULL,
	checks      TEXT    NOT NULL,
	evidence    BYTEA   NOT NULL,
	received_at BIGINT  NOT NULL
);

-- Link keys (issuer + serial of a user-authentication certificate), hashed
-- with the tenant id, of ワ sessions whose onboarding also verified an
-- authentication signature: re-authentication answers "same person as".
CREATE TABLE jpki_links (
	tenant_id  TEXT   NOT NULL,
	link_hash  BYTEA  NOT NULL,
	session_id TEXT   NOT NULL REFERENCES ekyc_sessions (id),
	created_at BIGINT NOT NULL,
	PRIMARY KEY (tenant_id, link_hash, session_id)
);
