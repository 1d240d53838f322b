-- Face re-authentication lockout (package txauth, face.go): consecutive
-- failed face re-authentications of a customer and when they locked the
-- factor. Kept on the account, not on the template, so re-enrolling a
-- template does not lift a lock. Unlocks (dual control after
-- re-verification) now name the factor they unlock: an image card
-- (card_id) or the customer's face re-authentication (card_id empty), and
-- the lock they were filed for (lock_at): a request for an earlier lock
-- cannot lift a later one.
ALTER TABLE txauth_accounts ADD COLUMN face_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE txauth_accounts ADD COLUMN face_locked_at BIGINT NOT NULL DEFAULT 0;

CREATE TABLE txauth_unlocks_0110 (
	id             TEXT   PRIMARY KEY,
	tenant_id      TEXT   NOT NULL,
	factor         TEXT   NOT NULL,
	customer_id    TEXT   NOT NULL,
	card_id        TEXT   NOT NULL,
	lock_at        BIGINT NOT NULL,
	reverification TEXT   NOT NULL,
	requested_by   TEXT   NOT NULL,
	requested_at   BIGINT NOT NULL,
	decided_by     TEXT   NOT NULL,
	decided_at     BIGINT NOT NULL,
	state          TEXT   NOT NULL
);
INSERT INTO txauth_unlocks_0110 (id, tenant_id, factor, customer_id, card_id, lock_at, reverification, requested_by, requested_at, decided_by, decided_at, state)
	SELECT u.id, u.tenant_id, 'image_card', c.customer_id, u.card_id, c.locked_at, u.reverification, u.requested_by, u.requested_at, u.decided_by, u.decided_at, u.state
	FROM txauth_unlocks u JOIN txauth_cards c ON c.id = u.card_id;
DROP TABLE txauth_unlocks;
ALTER TABLE txauth_unlocks_0110 RENAME TO txauth_unlocks;
CREATE INDEX txauth_unlocks_state ON txauth_unlocks (state, tenant_id, requested_at);
