-- Revocations reach every reader of the store within a bound (package
-- revoke). Every change that takes access away bumps the one-row revocation
-- epoch; instances (the server, and any CLI process writing the same file)
-- compare it periodically and drop their cached entries when it moved.
-- SQLite has no notifications: the epoch is the whole mechanism here.
CREATE TABLE revocation_epoch (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	epoch BIGINT  NOT NULL
);
INSERT INTO revocation_epoch (id, epoch) VALUES (1, 0);

-- What revokes access today, whoever writes it: an unexpired access token
-- deleted or changed, a client or tenant whose status changes or that is
-- deleted. Pruning expired tokens is not a revocation.
CREATE TRIGGER access_tokens_revoke_delete AFTER DELETE ON access_tokens
WHEN OLD.expires_at > CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)
BEGIN
	UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
CREATE TRIGGER access_tokens_revoke_update AFTER UPDATE ON access_tokens
BEGIN
	UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
CREATE TRIGGER api_clients_revoke_update AFTER UPDATE ON api_clients
WHEN OLD.status IS NOT NEW.status OR OLD.tenant_id IS NOT NEW.tenant_id
BEGIN
	UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
CREATE TRIGGER api_clients_revoke_delete AFTER DELETE ON api_clients
BEGIN
	UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
CREATE TRIGGER tenants_revoke_update AFTER UPDATE ON tenants
WHEN OLD.status IS NOT NEW.status
BEGIN
	UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
CREATE TRIGGER tenants_revoke_delete AFTER DELETE ON tenants
BEGIN
	UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
