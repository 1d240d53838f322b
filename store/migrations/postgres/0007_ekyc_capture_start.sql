-- When the capture page redeemed the token (created -> capturing): frames
-- must be captured after it (within the clock tolerance) and in order.
ALTER TABLE ekyc_sessions ADD COLUMN capture_started_at BIGINT NOT NULL DEFAULT 0;
