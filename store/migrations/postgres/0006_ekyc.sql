-- eKYC (package ekyc): per-tenant policies, sessions and their state
-- machine, captured frames, chip evidence, verification records (確認記録),
-- retention clocks and the webhook outbox. Personal data is never stored in
-- clear: images and chip files are sealed blobs (vault.SealBlob), and
-- evidence, claims and records are sealed under the session's data subject.

CREATE TABLE ekyc_policies (
	tenant_id  TEXT    PRIMARY KEY REFERENCES tenants (id),
	version    INTEGER NOT NULL,
	policy     TEXT    NOT NULL,
	updated_at BIGINT  NOT NULL
);

CREATE TABLE ekyc_sessions (
	id              TEXT    PRIMARY KEY,
	tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
	client_id       TEXT    NOT NULL,
	method          TEXT    NOT NULL,
	reference       TEXT    NOT NULL,
	webhook         TEXT    NOT NULL,
	locale          TEXT    NOT NULL,
	subject         TEXT    NOT NULL,
	state           TEXT    NOT NULL,
	outcome         TEXT    NOT NULL,
	version         INTEGER NOT NULL,
	policy_version  INTEGER NOT NULL,
	nonce           BYTEA   NOT NULL,
	challenge       TEXT    NOT NULL,
	token_hash      BYTEA   NOT NULL,
	token_expires   BIGINT  NOT NULL,
	token_used      INTEGER NOT NULL,
	key_hash        BYTEA,
	frame_nonce     BYTEA,
	frame_nonce_at  BIGINT  NOT NULL,
	frame_seq       INTEGER NOT NULL,
	created_at      BIGINT  NOT NULL,
	expires_at      BIGINT  NOT NULL,
	updated_at      BIGINT  NOT NULL,
	submitted_at    BIGINT  NOT NULL,
	decided_at      BIGINT  NOT NULL,
	decision        TEXT    NOT NULL,
	claims          BYTEA,
	reviewer        TEXT    NOT NULL,
	claim_expires   BIGINT  NOT NULL
);
CREATE UNIQUE INDEX ekyc_sessions_token ON ekyc_sessions (token_hash);
CREATE UNIQUE INDEX ekyc_sessions_key ON ekyc_sessions (key_hash);
CREATE INDEX ekyc_sessions_tenant ON ekyc_sessions (tenant_id, created_at);
CREATE INDEX ekyc_sessions_state ON ekyc_sessions (state, outcome, decided_at);
CREATE INDEX ekyc_sessions_expiry ON ekyc_sessions (state, expires_at);

CREATE TABLE ekyc_frames (
	session_id  TEXT    NOT NULL REFERENCES ekyc_sessions (id),
	seq         INTEGER NOT NULL,
	tenant_id   TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	sha256      TEXT    NOT NULL,
	blob_ref    TEXT    NOT NULL,
	size        BIGINT  NOT NULL,
	captured_at BIGINT  NOT NULL,
	received_at BIGINT  NOT NULL,
	PRIMARY KEY (session_id, seq)
);
CREATE UNIQUE INDEX ekyc_frames_digest ON ekyc_frames (session_id, sha256);

CREATE TABLE ekyc_chips (
	session_id  TEXT    PRIMARY KEY REFERENCES ekyc_sessions (id),
	tenant_id   TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	device_id   TEXT    NOT NULL,
	verified    INTEGER NOT NULL,
	evidence    BYTEA   NOT NULL,
	files       TEXT    NOT NULL,
	photo_ref   TEXT    NOT NULL,
	received_at BIGINT  NOT NULL
);

-- Verification records are written once and never updated.
CREATE TABLE ekyc_records (
	id          TEXT    PRIMARY KEY,
	tenant_id   TEXT    NOT NULL,
	session_id  TEXT    NOT NULL REFERENCES ekyc_sessions (id),
	subject     TEXT    NOT NULL,
	created_at  BIGINT  NOT NULL,
	body_sha256 TEXT    NOT NULL,
	body        BYTEA   NOT NULL
);
CREATE UNIQUE INDEX ekyc_records_session ON ekyc_records (session_id);

-- Retention: one row per session whose contract has ended; the subject is
-- shredded once retain_until has passed.
CREATE TABLE ekyc_retention (
	session_id        TEXT   PRIMARY KEY REFERENCES ekyc_sessions (id),
	tenant_id         TEXT   NOT NULL,
	subject           TEXT   NOT NULL,
	contract_ended_at BIGINT NOT NULL,
	retain_until      BIGINT NOT NULL,
	shredded_at       BIGINT NOT NULL
);
CREATE INDEX ekyc_retention_due ON ekyc_retention (shredded_at, retain_until);

CREATE TABLE ekyc_outbox (
	event_id     TEXT    PRIMARY KEY,
	tenant_id    TEXT    NOT NULL,
	session_id   TEXT    NOT NULL REFERENCES ekyc_sessions (id),
	subject      TEXT    NOT NULL,
	url          TEXT    NOT NULL,
	payload      BYTEA   NOT NULL,
	state        TEXT    NOT NULL,
	attempts     INTEGER NOT NULL,
	next_at      BIGINT  NOT NULL,
	last_status  INTEGER NOT NULL,
	created_at   BIGINT  NOT NULL,
	delivered_at BIGINT  NOT NULL
);
CREATE INDEX ekyc_outbox_due ON ekyc_outbox (state, next_at);
