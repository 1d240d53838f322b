-- Staff sign-in backoff and alerts (replaces the per-account lockout of 0005,
-- whose failed_count and locked_until columns are no longer used).
--
-- staff_signin_failures counts consecutive failed sign-ins per (username,
-- source address): key_hash is SHA-256 over both, user_hash over the
-- username alone (to count sources per username), source is the address
-- (IPv6 reduced to its /64). Rows exist for unknown usernames too, so real
-- and unknown accounts behave the same; staff_id is set for real accounts.
-- next_at is when the next attempt from that source will be evaluated
-- (0: no backoff).
CREATE TABLE staff_signin_failures (
	key_hash   BYTEA   PRIMARY KEY,
	user_hash  BYTEA   NOT NULL,
	source     TEXT   NOT NULL,
	staff_id   TEXT   NOT NULL,
	failures   INTEGER NOT NULL,
	next_at    BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX staff_signin_failures_user ON staff_signin_failures (user_hash, updated_at);
CREATE INDEX staff_signin_failures_source ON staff_signin_failures (source, updated_at);
CREATE INDEX staff_signin_failures_updated ON staff_signin_failures (updated_at);

-- Alerts for administrators: a source entering backoff on an account, one
-- account failing from many sources, one source failing on many usernames.
-- subject is the deduplication key (hex user hash or source). Raising and
-- acknowledging an alert is audited.
CREATE TABLE staff_alerts (
	id         TEXT   PRIMARY KEY,
	kind       TEXT   NOT NULL,
	subject    TEXT   NOT NULL,
	staff_id   TEXT   NOT NULL,
	source     TEXT   NOT NULL,
	count      INTEGER NOT NULL,
	created_at BIGINT NOT NULL,
	acked_by   TEXT   NOT NULL,
	acked_at   BIGINT NOT NULL
);
CREATE INDEX staff_alerts_subject ON staff_alerts (kind, subject, created_at);
CREATE INDEX staff_alerts_created ON staff_alerts (created_at);
