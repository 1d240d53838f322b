-- The portal's audit pages and per-tenant dashboard (issue 10, items 5 and 7).

-- An object's trail (audit.Log.Entries with a Trail): entries name an object
-- by its id ("ses_…") or, the portal's views, as "<kind>:<id>"; the trail key
-- is the part after the first ':' (audit.TrailKey). The expression is written
-- exactly as the query writes it, so the planner uses this index.
CREATE INDEX audit_entries_trail ON audit_entries (substr(object, instr(object, ':') + 1), idx);

-- The audit page filtered by action, for one tenant or for all.
CREATE INDEX audit_entries_tenant_action ON audit_entries (tenant_id, action, idx);
CREATE INDEX audit_entries_action ON audit_entries (action, idx);

-- When the automated decision referred a session to review (0: never).
-- Set by ekyc with the referral; the final decision's decided_at minus it is
-- the review time. Existing rows: a session waiting for review was referred
-- at its decided_at; a reviewed one at its automated decision's time, kept
-- in the decision JSON.
ALTER TABLE ekyc_sessions ADD COLUMN referred_at BIGINT NOT NULL DEFAULT 0;
UPDATE ekyc_sessions SET referred_at = decided_at WHERE state = 'decided' AND outcome = 'review';
UPDATE ekyc_sessions
SET referred_at = CAST(round((julianday(json_extract(decision, '$.automated.decided_at')) - 2440587.5) * 86400000000.0) AS INTEGER)
WHERE referred_at = 0
  AND CASE WHEN json_valid(decision) THEN json_extract(decision, '$.automated.decided_at') IS NOT NULL ELSE 0 END;

-- The dashboard's per-day counts of a tenant's sessions (ekyc.Stats), read
-- from this index alone and already in day order: the second key is the day
-- number in Japan Standard Time ((created_at µs + 9 h) / 1 day,
-- store.DayExpr), written exactly as the query writes it for a UTC+9 day
-- zone. (Another day zone gets the same answers from a sort instead.)
-- notify_outbox has no such index: it is created by migration 0030, after
-- this one; its (tenant_id, created_at) index serves the webhook figures.
CREATE INDEX ekyc_sessions_dashboard ON ekyc_sessions
	(tenant_id, ((created_at + 32400000000) / 86400000000), method, state, outcome, referred_at, created_at, decided_at);
