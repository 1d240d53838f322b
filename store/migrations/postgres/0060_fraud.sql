-- Fraud checks across sessions (package fraud): per-tenant fraud policies,
-- the 1:N face gallery (templates sealed under the approved subject's data
-- key, never in clear), its change log (how other instances keep their
-- in-memory index current), keyed digests of document numbers and
-- identities (HMAC under the server's fraud key, never plain hashes), and
-- velocity observations (keyed digests of devices, networks and documents).
-- Every row names its subject and is deleted when the subject is shredded.
CREATE TABLE fraud_policies (
	tenant_id  TEXT    PRIMARY KEY REFERENCES tenants (id),
	version    INTEGER NOT NULL,
	policy     TEXT    NOT NULL,
	updated_at BIGINT  NOT NULL
);

CREATE TABLE fraud_gallery (
	id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id  TEXT    NOT NULL,
	subject    TEXT    NOT NULL,
	session_id TEXT    NOT NULL,
	model      TEXT    NOT NULL,
	dim        INTEGER NOT NULL,
	state      TEXT    NOT NULL,
	template   BYTEA   NOT NULL,
	identity   BYTEA   NOT NULL,
	created_at BIGINT  NOT NULL,
	enrolled_at BIGINT  NOT NULL
);
CREATE UNIQUE INDEX fraud_gallery_session ON fraud_gallery (session_id, model);
CREATE INDEX fraud_gallery_subject ON fraud_gallery (tenant_id, subject);
CREATE INDEX fraud_gallery_state ON fraud_gallery (state, id);

CREATE TABLE fraud_gallery_changes (
	seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	entry_id BIGINT  NOT NULL,
	op       TEXT    NOT NULL,
	at       BIGINT  NOT NULL
);

CREATE TABLE fraud_documents (
	digest     BYTEA   NOT NULL,
	tenant_id  TEXT    NOT NULL,
	session_id TEXT    NOT NULL,
	subject    TEXT    NOT NULL,
	identity   BYTEA   NOT NULL,
	created_at BIGINT  NOT NULL,
	PRIMARY KEY (digest, session_id)
);
CREATE INDEX fraud_documents_tenant ON fraud_documents (tenant_id, digest);
CREATE INDEX fraud_documents_subject ON fraud_documents (tenant_id, subject);

CREATE TABLE fraud_events (
	tenant_id  TEXT    NOT NULL,
	kind       TEXT    NOT NULL,
	digest     BYTEA   NOT NULL,
	session_id TEXT    NOT NULL,
	subject    TEXT    NOT NULL,
	at         BIGINT  NOT NULL,
	PRIMARY KEY (tenant_id, kind, digest, session_id)
);
CREATE INDEX fraud_events_window ON fraud_events (tenant_id, kind, digest, at);
CREATE INDEX fraud_events_subject ON fraud_events (tenant_id, subject);
