-- The capture page's state poll (ekyc/capturestate.go) asks, every few
-- seconds per open page, whether the session's hand-off was redeemed and
-- when. ekyc_handoffs_issued covers only unredeemed tokens, so that
-- question scanned the table; this index answers it from the session.
CREATE INDEX ekyc_handoffs_session ON ekyc_handoffs (session_id, state, redeemed_at);
