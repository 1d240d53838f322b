-- Blobs: one row per stored object (content address = SHA-256 of the stored
-- bytes), committed BEFORE the object is written, and the references that
-- records hold to them, inserted in the record's own transaction. The foreign
-- key makes a reference to a swept blob fail instead of dangling.
CREATE TABLE blobs (
	hash       TEXT   NOT NULL PRIMARY KEY,
	size       BIGINT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX blobs_created ON blobs (created_at);

CREATE TABLE blob_refs (
	hash       TEXT   NOT NULL REFERENCES blobs (hash),
	tenant_id  TEXT   NOT NULL,
	owner      TEXT   NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (hash, tenant_id, owner)
);
CREATE INDEX blob_refs_owner ON blob_refs (tenant_id, owner);
