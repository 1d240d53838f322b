-- Vault: per-subject data keys (DEKs), each wrapped by a key-encryption key
-- (KEK) version held by the keyring (the key material never enters the
-- database). vault_subjects is the per-subject lock and tombstone: creating a
-- DEK and shredding take its row lock, and a shredded subject (shredded_at > 0)
-- never gets a new DEK.
CREATE TABLE vault_subjects (
	tenant_id   TEXT   NOT NULL,
	subject_id  TEXT   NOT NULL,
	created_at  BIGINT NOT NULL,
	shredded_at BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (tenant_id, subject_id)
);

CREATE TABLE vault_deks (
	tenant_id    TEXT    NOT NULL,
	subject_id   TEXT    NOT NULL,
	dek_version  INTEGER NOT NULL,
	kek_version  INTEGER NOT NULL,
	wrapped      BLOB    NOT NULL,
	created_at   BIGINT  NOT NULL,
	rewrapped_at BIGINT  NOT NULL,
	PRIMARY KEY (tenant_id, subject_id, dek_version)
);
CREATE INDEX vault_deks_kek ON vault_deks (kek_version, tenant_id, subject_id, dek_version);
