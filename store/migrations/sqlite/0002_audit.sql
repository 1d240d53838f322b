-- Audit log (package audit): entries, Merkle tree hashes, signed checkpoints.
-- audit_entries.leaf is the canonical leaf encoding (audit.MarshalLeaf); the
-- other columns copy fields of it for queries and are checked against it by
-- `madoguchi audit verify`. Rows are never updated or deleted.
CREATE TABLE audit_entries (
	idx        BIGINT PRIMARY KEY,      -- 0-based position in the tree
	leaf       BLOB NOT NULL,           -- canonical encoding, hashed into the tree
	leaf_hash  BLOB NOT NULL,           -- SHA-256(0x00 || leaf)
	time_us    BIGINT NOT NULL,         -- Entry.Time, Unix microseconds UTC
	tenant_id  TEXT NOT NULL,
	action     TEXT NOT NULL,
	object     TEXT NOT NULL
);
CREATE INDEX audit_entries_tenant ON audit_entries (tenant_id, idx);
CREATE INDEX audit_entries_object ON audit_entries (object, idx);

-- Stored hashes of complete subtrees, indexed as in
-- golang.org/x/mod/sumdb/tlog.StoredHashIndex(level, n).
CREATE TABLE audit_hashes (
	id   BIGINT PRIMARY KEY,
	hash BLOB NOT NULL
);

-- One row: the tree size. Appenders lock it; it is the log's head.
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	size BIGINT NOT NULL
);
INSERT INTO audit_head (id, size) VALUES (1, 0);

-- Signed checkpoints (C2SP signed note over a tlog-checkpoint body).
CREATE TABLE audit_checkpoints (
	size       BIGINT PRIMARY KEY,
	root_hash  BLOB NOT NULL,
	note       TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
