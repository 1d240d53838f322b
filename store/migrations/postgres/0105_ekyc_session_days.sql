-- The dashboard's per-day session counts as a roll-up (issue 10 item 7):
-- one row per tenant, creation day, method, state and outcome, with how
-- many sessions have them and how many of those an automated decision
-- referred to review (referred_at > 0). ekyc.Stats reads these rows instead
-- of counting the sessions on every view, when the dashboard's days are
-- Japan Standard Time days (the default; day = (created_at µs + 9 h) / 1 day,
-- store.DayExpr); another day zone counts the sessions.
--
-- The trigger keeps the roll-up in the transaction that writes a session
-- (created, captured, decided, reviewed, expired, cancelled, deleted),
-- whoever writes it. Rows whose count falls to zero stay (ekyc.Stats skips
-- them). A change touches its two rows in key order, so two transactions
-- moving sessions between the same two rows cannot deadlock on them.
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

-- madoguchi_session_day adds n (+1 or -1) sessions to one row.
CREATE FUNCTION madoguchi_session_day(t TEXT, created BIGINT, m TEXT, st TEXT, o TEXT, ref BIGINT, n BIGINT) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO ekyc_session_days AS d (tenant_id, day, method, state, outcome, sessions, referred)
	VALUES (t, (created + 32400000000) / 86400000000, m, st, o, n, CASE WHEN ref > 0 THEN n ELSE 0 END)
	ON CONFLICT (tenant_id, day, method, state, outcome)
	DO UPDATE SET sessions = d.sessions + EXCLUDED.sessions, referred = d.referred + EXCLUDED.referred;
END
$$;

CREATE FUNCTION madoguchi_session_days() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
	old_first BOOLEAN;
BEGIN
	IF TG_OP = 'INSERT' THEN
		PERFORM madoguchi_session_day(NEW.tenant_id, NEW.created_at, NEW.method, NEW.state, NEW.outcome, NEW.referred_at, 1);
	ELSIF TG_OP = 'DELETE' THEN
		PERFORM madoguchi_session_day(OLD.tenant_id, OLD.created_at, OLD.method, OLD.state, OLD.outcome, OLD.referred_at, -1);
	ELSIF OLD.tenant_id IS DISTINCT FROM NEW.tenant_id OR OLD.created_at IS DISTINCT FROM NEW.created_at
	   OR OLD.method IS DISTINCT FROM NEW.method OR OLD.state IS DISTINCT FROM NEW.state
	   OR OLD.outcome IS DISTINCT FROM NEW.outcome OR (OLD.referred_at > 0) IS DISTINCT FROM (NEW.referred_at > 0) THEN
		old_first := (OLD.tenant_id, (OLD.created_at + 32400000000) / 86400000000, OLD.method, OLD.state, OLD.outcome)
		           < (NEW.tenant_id, (NEW.created_at + 32400000000) / 86400000000, NEW.method, NEW.state, NEW.outcome);
		IF old_first THEN
			PERFORM madoguchi_session_day(OLD.tenant_id, OLD.created_at, OLD.method, OLD.state, OLD.outcome, OLD.referred_at, -1);
			PERFORM madoguchi_session_day(NEW.tenant_id, NEW.created_at, NEW.method, NEW.state, NEW.outcome, NEW.referred_at, 1);
		ELSE
			PERFORM madoguchi_session_day(NEW.tenant_id, NEW.created_at, NEW.method, NEW.state, NEW.outcome, NEW.referred_at, 1);
			PERFORM madoguchi_session_day(OLD.tenant_id, OLD.created_at, OLD.method, OLD.state, OLD.outcome, OLD.referred_at, -1);
		END IF;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER ekyc_session_days AFTER INSERT OR UPDATE OR DELETE ON ekyc_sessions
	FOR EACH ROW EXECUTE FUNCTION madoguchi_session_days();
