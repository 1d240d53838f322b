package oauth

import (
	"context"
	"time"

	"github.com/madoguchi/madoguchi/internal/periodic"
	"github.com/madoguchi/madoguchi/store"
)

// sweepTables are the short-lived rows the server stops needing after
// they expire, and how long each is kept past its expiry: pushed requests
// and replay-cache entries at once (a lookup refuses an expired one
// anyway); interactions and codes an hour, so a late replay of a used code
// is still recognised and revokes its grant; tokens a day, so
// introspection answers inactive rather than unknown for a while.
// Consents (oauth_grants) are records and are never swept here.
var sweepTables = []struct {
	table string
	keep  time.Duration
}{
	{"oauth_par", 0},
	{"oauth_jtis", 0},
	{"oauth_dpop_nonces", 0},
	{"oauth_interactions", time.Hour},
	{"oauth_codes", time.Hour},
	{"oauth_tokens", 24 * time.Hour},
}

// DefaultSweepEvery is how often Run sweeps (Config.SweepEvery).
const DefaultSweepEvery = time.Minute

// Sweep deletes the expired rows of sweepTables, each table in its own
// statement (idempotent: instances sweeping at once only race to delete the
// same rows), and returns how many it deleted per table. It replaces the
// pruning that used to run inside every PAR, code, token and replay-cache
// write. It sweeps the client authenticator's tables too
// (ClientAuthenticator.Sweep: tenant's access tokens and spent assertion
// ids), which the client_credentials token path no longer prunes.
func (s *Server) Sweep(ctx context.Context) (map[string]int64, error) {
	now := s.now()
	out, err := s.cfg.Clients.Sweep(ctx)
	if err != nil {
		return out, err
	}
	if out == nil {
		out = make(map[string]int64, len(sweepTables))
	}
	for _, st := range sweepTables {
		res, err := s.cfg.DB.Exec(ctx, `DELETE FROM `+st.table+` WHERE expires_at < ?`, store.Micros(now.Add(-st.keep)))
		if err != nil {
			return out, err
		}
		n, _ := res.RowsAffected()
		out[st.table] = n
	}
	return out, nil
}

// sweepLoop runs Sweep every SweepEvery until ctx ends.
func (s *Server) sweepLoop(ctx context.Context) {
	every := s.cfg.SweepEvery
	if every <= 0 {
		every = DefaultSweepEvery
	}
	periodic.Run(ctx, every, func(ctx context.Context) error { _, err := s.Sweep(ctx); return err },
		func(err error) {
			s.log.Warn("oauth: sweeping expired requests, codes and replay-cache entries failed", "err", err)
		})
}
