-- The ワ hand-off (ekyc/handoff.go): one-time tokens the capture page
-- issues to hand its session to a second device (the smartphone JPKI app),
-- and the capture key each redeemed token gave that device. Only SHA-256
-- hashes of tokens and keys are stored. state: issued, redeemed or
-- superseded (a newer token was issued before this one was redeemed).
CREATE TABLE ekyc_handoffs (
	token_hash  BLOB   PRIMARY KEY,
	session_id  TEXT    NOT NULL REFERENCES ekyc_sessions (id),
	tenant_id   TEXT    NOT NULL,
	state       TEXT    NOT NULL,
	issued_at   BIGINT  NOT NULL,
	expires_at  BIGINT  NOT NULL,
	redeemed_at BIGINT  NOT NULL,
	key_hash    BLOB
);
CREATE UNIQUE INDEX ekyc_handoffs_key ON ekyc_handoffs (key_hash);
-- At most one unredeemed token per session: issuing a new one supersedes it.
CREATE UNIQUE INDEX ekyc_handoffs_issued ON ekyc_handoffs (session_id) WHERE state = 'issued';
