-- Visual review (目視審査) in the staff portal: the first approval of a
-- session that needs a second reviewer (four eyes: the engine's checks
-- failed and the policy referred it, or the tenant's policy asks two
-- approvals for every session). One row per session while it waits for the
-- second reviewer; claims read off ホ document images are sealed under the
-- session's subject. The session's reference is indexed so that staff can
-- find a verification record by the tenant's own reference.
CREATE TABLE ekyc_review_approvals (
	session_id  TEXT   PRIMARY KEY REFERENCES ekyc_sessions (id),
	tenant_id   TEXT   NOT NULL,
	staff_id    TEXT   NOT NULL,
	approved_at BIGINT NOT NULL,
	note        TEXT   NOT NULL,
	reasons     TEXT   NOT NULL,
	checked     TEXT   NOT NULL,
	claims      BLOB
);
CREATE INDEX ekyc_sessions_reference ON ekyc_sessions (tenant_id, reference);
