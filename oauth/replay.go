package oauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/store"
)

// spendShared records (scope, jti) in the replay cache every instance
// shares (a primary key in the store); a second use anywhere is ErrReplay.
// Entries are kept until exp; Sweep prunes them.
func (s *Server) spendShared(ctx context.Context, scope, jti string, exp time.Time) error {
	return s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO oauth_jtis (scope, jti_hash, expires_at) VALUES (?, ?, ?)`, scope, hashOf(jti), store.Micros(exp))
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w: %s", ErrReplay, scope)
		}
		return err
	})
}
