-- The authorization server (package oauth). Secrets (codes, tokens,
-- request_uris, interaction ids, auth_req_ids) are stored as SHA-256 only;
-- personal data (authorization_details such as a payee account, CIBA
-- notification secrets) is sealed by the vault before it reaches a row.

-- A partner's API client as an OAuth client: redirect URIs, grants, the
-- authorization_details types it may request, CIBA delivery, limits, and
-- its onboarding state. Nothing acts for a customer until status = active.
CREATE TABLE oauth_clients (
	client_id       TEXT    PRIMARY KEY REFERENCES api_clients (id),
	tenant_id       TEXT    NOT NULL,
	redirect_uris   TEXT    NOT NULL,
	grant_types     TEXT    NOT NULL,
	rar_types       TEXT    NOT NULL,
	ciba_mode       TEXT    NOT NULL,
	ciba_endpoint   TEXT    NOT NULL,
	rate_client     INTEGER NOT NULL,
	rate_customer   INTEGER NOT NULL,
	status          TEXT    NOT NULL,
	created_at      BIGINT  NOT NULL,
	requested_by    TEXT,
	activated_by    TEXT,
	activated_at    BIGINT
);
CREATE INDEX oauth_clients_tenant ON oauth_clients (tenant_id, client_id);

-- Pushed authorization requests (RFC 9126): single use, < 600 s.
CREATE TABLE oauth_par (
	uri_hash    BLOB    PRIMARY KEY,
	tenant_id   TEXT    NOT NULL,
	client_id   TEXT    NOT NULL,
	request     BLOB    NOT NULL,
	expires_at  BIGINT  NOT NULL
);
CREATE INDEX oauth_par_expiry ON oauth_par (expires_at);

-- A customer step in progress: the browser at the authorization endpoint
-- (kind authorize) or the customer's own device (kind ciba).
CREATE TABLE oauth_interactions (
	id_hash       BLOB    PRIMARY KEY,
	kind          TEXT    NOT NULL,
	tenant_id     TEXT    NOT NULL,
	client_id     TEXT    NOT NULL,
	request       BLOB    NOT NULL,
	browser_hash  BLOB,
	auth_req_hash BLOB,
	login_hint    TEXT,
	state         TEXT    NOT NULL,
	subject       TEXT,
	grant_id      TEXT,
	acr           TEXT,
	amr           TEXT,
	auth_time     BIGINT,
	poll_interval INTEGER NOT NULL,
	last_poll_at  BIGINT,
	created_at    BIGINT  NOT NULL,
	expires_at    BIGINT  NOT NULL
);
CREATE UNIQUE INDEX oauth_interactions_auth_req ON oauth_interactions (auth_req_hash);
CREATE INDEX oauth_interactions_hint ON oauth_interactions (tenant_id, login_hint, state);
CREATE INDEX oauth_interactions_expiry ON oauth_interactions (expires_at);

-- Consents: what a customer granted a partner, until when. Revocation is a
-- state change, never a delete, so the record and its audit trail remain.
CREATE TABLE oauth_grants (
	id           TEXT    PRIMARY KEY,
	tenant_id    TEXT    NOT NULL,
	client_id    TEXT    NOT NULL,
	subject      TEXT    NOT NULL,
	scopes       TEXT    NOT NULL,
	detail_types TEXT    NOT NULL,
	details      BLOB,
	acr          TEXT    NOT NULL,
	amr          TEXT    NOT NULL,
	status       TEXT    NOT NULL,
	created_at   BIGINT  NOT NULL,
	expires_at   BIGINT  NOT NULL,
	revoked_at   BIGINT,
	revoked_by   TEXT
);
CREATE INDEX oauth_grants_subject ON oauth_grants (tenant_id, subject);
CREATE INDEX oauth_grants_client ON oauth_grants (tenant_id, client_id);

-- Authorization codes: single use, <= 60 s.
CREATE TABLE oauth_codes (
	code_hash      BLOB    PRIMARY KEY,
	tenant_id      TEXT    NOT NULL,
	client_id      TEXT    NOT NULL,
	grant_id       TEXT    NOT NULL,
	redirect_uri   TEXT    NOT NULL,
	code_challenge TEXT    NOT NULL,
	dpop_jkt       TEXT    NOT NULL,
	nonce          TEXT    NOT NULL,
	auth_time      BIGINT  NOT NULL,
	used_at        BIGINT,
	expires_at     BIGINT  NOT NULL
);
CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);

-- Access and refresh tokens of customer grants. cnf binds a token to a DPoP
-- key (RFC 7638 thumbprint) or a TLS certificate (x5t#S256).
CREATE TABLE oauth_tokens (
	token_hash BLOB    PRIMARY KEY,
	kind       TEXT    NOT NULL,
	grant_id   TEXT    NOT NULL,
	tenant_id  TEXT    NOT NULL,
	client_id  TEXT    NOT NULL,
	subject    TEXT    NOT NULL,
	scopes     TEXT    NOT NULL,
	cnf_jkt    TEXT,
	cnf_x5t    TEXT,
	issued_at  BIGINT  NOT NULL,
	expires_at BIGINT  NOT NULL,
	revoked_at BIGINT
);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_id);
CREATE INDEX oauth_tokens_expiry ON oauth_tokens (expires_at);

-- The replay cache every instance shares: DPoP proofs, request objects.
CREATE TABLE oauth_jtis (
	scope      TEXT    NOT NULL,
	jti_hash   BLOB    NOT NULL,
	expires_at BIGINT  NOT NULL,
	PRIMARY KEY (scope, jti_hash)
);
CREATE INDEX oauth_jtis_expiry ON oauth_jtis (expires_at);

-- CIBA ping notifications waiting for delivery (outbox).
CREATE TABLE oauth_ping_outbox (
	id           TEXT    PRIMARY KEY,
	tenant_id    TEXT    NOT NULL,
	client_id    TEXT    NOT NULL,
	payload      BLOB    NOT NULL,
	attempts     INTEGER NOT NULL,
	next_at      BIGINT  NOT NULL,
	delivered_at BIGINT,
	dead_at      BIGINT,
	created_at   BIGINT  NOT NULL
);
CREATE INDEX oauth_ping_outbox_due ON oauth_ping_outbox (delivered_at, dead_at, next_at);

-- Partner onboarding: one assessment per OAuth client, one row per criteria
-- area with its evidence and the reviewer's sign-off.
CREATE TABLE oauth_assessment_items (
	client_id       TEXT    NOT NULL,
	tenant_id       TEXT    NOT NULL,
	area            TEXT    NOT NULL,
	status          TEXT    NOT NULL,
	note            TEXT    NOT NULL,
	evidence_name   TEXT,
	evidence_sha256 TEXT,
	evidence_ref    TEXT,
	updated_by      TEXT    NOT NULL,
	updated_at      BIGINT  NOT NULL,
	PRIMARY KEY (client_id, area)
);
CREATE TABLE oauth_assessments (
	client_id      TEXT    PRIMARY KEY,
	tenant_id      TEXT    NOT NULL,
	reviewer       TEXT,
	signed_off_at  BIGINT,
	decision       TEXT
);

-- Every instance polls these (about twice a second) to drop revoked tokens
-- from its in-memory cache.
CREATE INDEX oauth_tokens_revoked ON oauth_tokens (revoked_at);
CREATE INDEX oauth_grants_revoked ON oauth_grants (revoked_at);
