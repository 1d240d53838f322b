-- The dashboard's per-day session counts as a roll-up (issue 10 item 7):
-- one row per tenant, creation day, method, state and outcome, with how
-- many sessions have them and how many of those an automated decision
-- referred to review (referred_at > 0). ekyc.Stats reads these rows instead
-- of counting the sessions on every view, when the dashboard's days are
-- Japan Standard Time days (the default; day = (created_at µs + 9 h) / 1 day,
-- store.DayExpr); another day zone counts the sessions.
--
-- The triggers keep the roll-up in the transaction that writes a session
-- (created, captured, decided, reviewed, expired, cancelled, deleted),
-- whoever writes it. Rows whose count falls to zero stay (ekyc.Stats skips
-- them).
CREATE TABLE ekyc_session_days (
	tenant_id TEXT    NOT NULL,
	day       BIGINT  NOT NULL,
	method    TEXT    NOT NULL,
	state     TEXT    NOT NULL,
	outcome   TEXT    NOT NULL,
	sessions  BIGINT  NOT NULL,
	referred  BIGINT  NOT NULL,
	PRIMARY KEY (tenant_id, day, method, state, outcome)
);

INSERT INTO ekyc_session_days (tenant_id, day, method, state, outcome, sessions, referred)
SELECT tenant_id, (created_at + 32400000000) / 86400000000, method, state, outcome,
       COUNT(*), SUM(CASE WHEN referred_at > 0 THEN 1 ELSE 0 END)
FROM ekyc_sessions
GROUP BY 1, 2, 3, 4, 5;

CREATE TRIGGER ekyc_session_days_insert AFTER INSERT ON ekyc_sessions
BEGIN
	INSERT INTO ekyc_session_days (tenant_id, day, method, state, outcome, sessions, referred)
	VALUES (NEW.tenant_id, (NEW.created_at + 32400000000) / 86400000000, NEW.method, NEW.state, NEW.outcome,
		1, CASE WHEN NEW.referred_at > 0 THEN 1 ELSE 0 END)
	ON CONFLICT (tenant_id, day, method, state, outcome)
	DO UPDATE SET sessions = sessions + 1, referred = referred + excluded.referred;
END;

CREATE TRIGGER ekyc_session_days_update
AFTER UPDATE OF tenant_id, created_at, method, state, outcome, referred_at ON ekyc_sessions
WHEN OLD.tenant_id IS NOT NEW.tenant_id OR OLD.created_at IS NOT NEW.created_at OR OLD.method IS NOT NEW.method
  OR OLD.state IS NOT NEW.state OR OLD.outcome IS NOT NEW.outcome OR (OLD.referred_at > 0) IS NOT (NEW.referred_at > 0)
BEGIN
	UPDATE ekyc_session_days
	SET sessions = sessions - 1, referred = referred - CASE WHEN OLD.referred_at > 0 THEN 1 ELSE 0 END
	WHERE tenant_id = OLD.tenant_id AND day = (OLD.created_at + 32400000000) / 86400000000
	  AND method = OLD.method AND state = OLD.state AND outcome = OLD.outcome;
	INSERT INTO ekyc_session_days (tenant_id, day, method, state, outcome, sessions, referred)
	VALUES (NEW.tenant_id, (NEW.created_at + 32400000000) / 86400000000, NEW.method, NEW.state, NEW.outcome,
		1, CASE WHEN NEW.referred_at > 0 THEN 1 ELSE 0 END)
	ON CONFLICT (tenant_id, day, method, state, outcome)
	DO UPDATE SET sessions = sessions + 1, referred = referred + excluded.referred;
END;

CREATE TRIGGER ekyc_session_days_delete AFTER DELETE ON ekyc_sessions
BEGIN
	UPDATE ekyc_session_days
	SET sessions = sessions - 1, referred = referred - CASE WHEN OLD.referred_at > 0 THEN 1 ELSE 0 END
	WHERE tenant_id = OLD.tenant_id AND day = (OLD.created_at + 32400000000) / 86400000000
	  AND method = OLD.method AND state = OLD.state AND outcome = OLD.outcome;
END;
