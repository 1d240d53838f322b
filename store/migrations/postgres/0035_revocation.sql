-- Revocations reach every instance within a bound (package revoke). Every
-- change that takes access away bumps the one-row revocation epoch and
-- notifies the channel 'madoguchi_revoke:' || current_schema() with the
-- payload '<epoch> <tag> <tag> …' ('*' for everything). The channel carries
-- the schema so that stores sharing one database (tests) never see each
-- other's events. Instances drop cached entries carrying a notified tag, and
-- compare the epoch periodically to catch what a dropped notification
-- connection missed.
CREATE TABLE revocation_epoch (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	epoch BIGINT  NOT NULL
);
INSERT INTO revocation_epoch (id, epoch) VALUES (1, 0);

-- madoguchi_revoke bumps the epoch and queues the notification; both take
-- effect when the calling transaction commits, and neither if it rolls back.
-- Concurrent revocations serialise on the epoch row, so notifications are
-- delivered in epoch order.
CREATE FUNCTION madoguchi_revoke(tags TEXT) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
	e BIGINT;
BEGIN
	UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1 RETURNING epoch INTO e;
	IF tags IS NULL OR tags = '' OR octet_length(tags) > 7000 THEN
		tags := '*';
	END IF;
	PERFORM pg_notify('madoguchi_revoke:' || current_schema(), e::TEXT || ' ' || tags);
	RETURN e;
END
$$;

-- What revokes access today, whoever writes it (API, CLI, an operator's
-- SQL): an unexpired access token deleted or changed, a client or tenant
-- whose status changes or that is deleted. Pruning expired tokens is not a
-- revocation.
CREATE FUNCTION madoguchi_revoke_access_tokens() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
	n    BIGINT;
	tags TEXT;
BEGIN
	SELECT count(*), string_agg('token:' || encode(token_hash, 'hex'), ' ')
	  INTO n, tags
	  FROM old_rows
	 WHERE expires_at > (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT;
	IF n > 0 THEN
		PERFORM madoguchi_revoke(tags);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER access_tokens_revoke_delete AFTER DELETE ON access_tokens
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION madoguchi_revoke_access_tokens();
CREATE TRIGGER access_tokens_revoke_update AFTER UPDATE ON access_tokens
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION madoguchi_revoke_access_tokens();

CREATE FUNCTION madoguchi_revoke_api_client() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		PERFORM madoguchi_revoke('client:' || OLD.id);
	ELSIF OLD.status IS DISTINCT FROM NEW.status OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id THEN
		PERFORM madoguchi_revoke('client:' || OLD.id);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER api_clients_revoke AFTER UPDATE OR DELETE ON api_clients
	FOR EACH ROW EXECUTE FUNCTION madoguchi_revoke_api_client();

CREATE FUNCTION madoguchi_revoke_tenant() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		PERFORM madoguchi_revoke('tenant:' || OLD.id);
	ELSIF OLD.status IS DISTINCT FROM NEW.status THEN
		PERFORM madoguchi_revoke('tenant:' || OLD.id);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER tenants_revoke AFTER UPDATE OR DELETE ON tenants
	FOR EACH ROW EXECUTE FUNCTION madoguchi_revoke_tenant();
