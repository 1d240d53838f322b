-- Chip reuse (issue 11.5): a keyed digest (HMAC-SHA256 under the server's
-- chip-reuse key, never a plain hash) of each issuer-signed object of every
-- verified chip read, so the same chip read presented in another session
-- (of any tenant) is found at decision time; and the public keys that
-- registered kiosks/readers sign their chip reads with. Digests are deleted
-- with their session's subject (crypto-shredding).
CREATE TABLE ekyc_chip_digests (
	digest     BYTEA   NOT NULL,
	session_id TEXT   NOT NULL REFERENCES ekyc_sessions (id),
	tenant_id  TEXT   NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (digest, session_id)
);
CREATE INDEX ekyc_chip_digests_session ON ekyc_chip_digests (session_id);

CREATE TABLE ekyc_device_keys (
	key_id     TEXT   PRIMARY KEY,
	tenant_id  TEXT   NOT NULL,
	client_id  TEXT   NOT NULL,
	alg        TEXT   NOT NULL,
	public_key BYTEA   NOT NULL,
	created_at BIGINT NOT NULL,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX ekyc_device_keys_client ON ekyc_device_keys (tenant_id, client_id);
