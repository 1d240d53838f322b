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

ALTER TABLE txauth_unlocks DROP CONSTRAINT IF EXISTS txauth_unlocks_card_id_fkey;
ALTER TABLE txauth_unlocks ADD COLUMN factor TEXT NOT NULL DEFAULT 'image_card';
ALTER TABLE txauth_unlocks ADD COLUMN customer_id TEXT NOT NULL DEFAULT '';
ALTER TABLE txauth_unlocks ADD COLUMN lock_at BIGINT NOT NULL DEFAULT 0;
UPDATE txauth_unlocks u SET customer_id = c.customer_id, lock_at = c.locked_at FROM txauth_cards c WHERE c.id = u.card_id;
ALTER TABLE txauth_unlocks ALTER COLUMN factor DROP DEFAULT;
ALTER TABLE txauth_unlocks ALTER COLUMN customer_id DROP DEFAULT;
ALTER TABLE txauth_unlocks ALTER COLUMN lock_at DROP DEFAULT;
CREATE INDEX txauth_unlocks_state ON txauth_unlocks (state, tenant_id, requested_at);
