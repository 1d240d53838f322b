-- Tenants (connected services) and their API clients. Clients authenticate
-- with private_key_jwt (public JWKS stored here) or mutual TLS (the SHA-256
-- thumbprint of the registered certificate); there are no shared secrets.
CREATE TABLE tenants (
	id         TEXT   PRIMARY KEY,
	name       TEXT   NOT NULL,
	status     TEXT   NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX tenants_name ON tenants (name);

CREATE TABLE api_clients (
	id          TEXT   PRIMARY KEY,
	tenant_id   TEXT   NOT NULL REFERENCES tenants (id),
	name        TEXT   NOT NULL,
	auth_method TEXT   NOT NULL,
	scopes      TEXT   NOT NULL,
	jwks        TEXT,
	cert_sha256 TEXT,
	status      TEXT   NOT NULL,
	created_at  BIGINT NOT NULL
);
CREATE INDEX api_clients_tenant ON api_clients (tenant_id, id);
CREATE UNIQUE INDEX api_clients_cert ON api_clients (cert_sha256);

-- Client-assertion ids seen, kept until the assertion could no longer be
-- accepted; a second use of the same (client, jti) is a conflict.
CREATE TABLE client_assertion_jtis (
	client_id  TEXT   NOT NULL,
	jti_hash   BYTEA  NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (client_id, jti_hash)
);
CREATE INDEX client_assertion_jtis_expiry ON client_assertion_jtis (expires_at);

-- Opaque access tokens, stored as SHA-256 of the token only.
CREATE TABLE access_tokens (
	token_hash   BYTEA  PRIMARY KEY,
	tenant_id    TEXT   NOT NULL,
	client_id    TEXT   NOT NULL REFERENCES api_clients (id),
	scopes       TEXT   NOT NULL,
	cnf_x5t_s256 TEXT,
	issued_at    BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL
);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);
