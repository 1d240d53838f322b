-- Staff portal accounts: argon2id password hashes (PHC strings), sealed TOTP
-- secrets with the last accepted time step (replay refusal), consecutive
-- failure counts and time-based lockout; roles; sessions stored as SHA-256 of
-- the opaque token; and dual-control approvals.
CREATE TABLE staff_accounts (
	id             TEXT    PRIMARY KEY,
	username       TEXT    NOT NULL,
	password_hash  TEXT    NOT NULL,
	totp_secret    BLOB    NOT NULL,
	totp_last_step BIGINT  NOT NULL,
	failed_count   INTEGER NOT NULL,
	locked_until   BIGINT  NOT NULL,
	status         TEXT    NOT NULL,
	created_at     BIGINT  NOT NULL
);
CREATE UNIQUE INDEX staff_accounts_username ON staff_accounts (username);

CREATE TABLE staff_roles (
	staff_id   TEXT   NOT NULL REFERENCES staff_accounts (id),
	role       TEXT   NOT NULL,
	granted_at BIGINT NOT NULL,
	PRIMARY KEY (staff_id, role)
);

-- At most two rows: the first two admins, created without an approval (dual
-- control needs two admins before anyone can approve anything).
CREATE TABLE staff_bootstrap (
	id         INTEGER PRIMARY KEY,
	staff_id   TEXT    NOT NULL REFERENCES staff_accounts (id),
	created_at BIGINT  NOT NULL,
	CHECK (id IN (1, 2))
);

CREATE TABLE staff_sessions (
	token_hash BLOB   PRIMARY KEY,
	staff_id   TEXT   NOT NULL REFERENCES staff_accounts (id),
	created_at BIGINT NOT NULL,
	last_seen  BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);

CREATE TABLE approvals (
	id         TEXT   PRIMARY KEY,
	kind       TEXT   NOT NULL,
	payload    BLOB   NOT NULL,
	requester  TEXT   NOT NULL REFERENCES staff_accounts (id),
	status     TEXT   NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	decided_by TEXT,
	decided_at BIGINT NOT NULL,
	reason     TEXT   NOT NULL
);
CREATE INDEX approvals_status ON approvals (status, created_at);
