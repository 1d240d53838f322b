-- Indexes for the portal's pages on a loaded store (issue 10; benchmark in
-- docs/benchmarks.md, "Staff portal pages on a loaded store").

-- The dashboard's review times (ekyc.Stats): a tenant's approved and
-- rejected sessions by JST creation day, without reading the others (the
-- outcome before the day, so the planner prefers it to the dashboard index
-- of migration 0029). The day expression is written exactly as the query
-- writes it.
CREATE INDEX ekyc_sessions_reviewed ON ekyc_sessions
	(tenant_id, outcome, ((created_at + 32400000000) / 86400000000), referred_at, decided_at);

-- The review queue (ekyc.Service.Queue): a tenant's sessions waiting for
-- review in queue order, so a page deep in the queue skips index entries
-- rather than sessions.
CREATE INDEX ekyc_sessions_queue ON ekyc_sessions (tenant_id, state, outcome, decided_at, id);

-- Operator staff find records by a tenant's reference across tenants
-- (ekyc.FindRecords without a tenant).
CREATE INDEX ekyc_sessions_reference_any ON ekyc_sessions (reference);
