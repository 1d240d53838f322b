-- Passkeys (WebAuthn credentials) of staff accounts: the public key and
-- signature counter as the relying-party library serialises them (JSON; no
-- secret), the credential id (unique across the installation) and a label
-- the owner chose. Ceremonies hold the server side of a registration or
-- assertion between its two requests, keyed by the SHA-256 of the random
-- value in the browser's ceremony cookie; each is used once.
CREATE TABLE staff_passkeys (
	id            TEXT   PRIMARY KEY,
	staff_id      TEXT   NOT NULL REFERENCES staff_accounts (id),
	credential_id BYTEA  NOT NULL,
	credential    BYTEA  NOT NULL,
	name          TEXT   NOT NULL,
	created_at    BIGINT NOT NULL,
	last_used     BIGINT NOT NULL
);
CREATE UNIQUE INDEX staff_passkeys_credential ON staff_passkeys (credential_id);
CREATE INDEX staff_passkeys_staff ON staff_passkeys (staff_id);

CREATE TABLE staff_webauthn_ceremonies (
	id_hash    BYTEA  PRIMARY KEY,
	kind       TEXT   NOT NULL,
	staff_id   TEXT,
	data       BYTEA  NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX staff_webauthn_ceremonies_expiry ON staff_webauthn_ceremonies (expires_at);
