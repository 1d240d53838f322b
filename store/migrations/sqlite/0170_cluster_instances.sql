-- The running instances of the server that share this database
-- (internal/cluster): each writes its row every few seconds and deletes it
-- on graceful shutdown; a row not renewed within the expiry is not counted
-- and is deleted by the next heartbeat of any instance. The rate limits
-- divide the configured rates by the number of live rows. id is random per
-- process; times are Unix microseconds.
CREATE TABLE cluster_instances (
    id         TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
