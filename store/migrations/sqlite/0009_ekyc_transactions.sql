-- Transaction records (取引記録, 犯罪収益移転防止法 第7条): one row per
-- transaction the tenant reports for a verified customer, with the search
-- key to the verification record (the session), sealed under the session's
-- subject and kept 7 years from the transaction. The subject is shredded
-- only when every record for it has run out.
CREATE TABLE ekyc_transactions (
	id           TEXT   PRIMARY KEY,
	tenant_id    TEXT   NOT NULL,
	session_id   TEXT   NOT NULL REFERENCES ekyc_sessions (id),
	occurred_at  BIGINT NOT NULL,
	retain_until BIGINT NOT NULL,
	created_at   BIGINT NOT NULL,
	body         BLOB  NOT NULL
);
CREATE INDEX ekyc_transactions_session ON ekyc_transactions (session_id, retain_until);
