-- Face re-authentication (package txauth, face.go): the template enrolled
-- from the customer's approved eKYC selfies (sealed under the customer's
-- subject, shredded with it), and the page's capture in progress: the
-- active challenge, the single-use frame nonce and the frames (sealed,
-- deleted by the decision).
CREATE TABLE txauth_faces (
	tenant_id   TEXT   NOT NULL REFERENCES tenants (id),
	customer_id TEXT   NOT NULL REFERENCES customers (id),
	model       TEXT   NOT NULL,
	sealed      BYTEA   NOT NULL,
	created_at  BIGINT NOT NULL,
	PRIMARY KEY (tenant_id, customer_id)
);

CREATE TABLE txauth_face_captures (
	confirmation_id TEXT    PRIMARY KEY REFERENCES txauth_confirmations (id),
	tenant_id       TEXT    NOT NULL,
	steps           TEXT    NOT NULL,
	nonce           BYTEA    NOT NULL,
	seq             INTEGER NOT NULL,
	started_at      BIGINT  NOT NULL
);

CREATE TABLE txauth_face_frames (
	confirmation_id TEXT    NOT NULL REFERENCES txauth_confirmations (id),
	seq             INTEGER NOT NULL,
	sealed          BYTEA    NOT NULL,
	PRIMARY KEY (confirmation_id, seq)
);
