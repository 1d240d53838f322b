package oauth

import (
	"context"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/store"
)

// spendShared records (scope, jti) in the replay cache every instance
// shares (a primary key in the store); a second use anywhere is ErrReplay.
// Entries are kept until exp; Sweep prunes them.
func (s *Server) spendShared(ctx context.Context, scope, jti string, exp time.Time) error {
	res, err := s.cfg.DB.Exec(ctx, `INSERT INTO oauth_jtis (scope, jti_hash, expires_at) VALUES (?, ?, ?) ON CONFLICT (scope, jti_hash) DO NOTHING`, scope, hashOf(jti), store.Micros(exp))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("%w: %s", ErrReplay, scope)
	}
	return nil
}
