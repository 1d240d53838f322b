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
// Entries are kept until exp and pruned on the way.
func (s *Server) spendShared(ctx context.Context, scope, jti string, exp time.Time) error {
	now := s.now()
	return s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM oauth_jtis WHERE expires_at < ?`, store.Micros(now)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO oauth_jtis (scope, jti_hash, expires_at) VALUES (?, ?, ?)`, scope, hashOf(jti), store.Micros(exp))
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w: %s", ErrReplay, scope)
		}
		return err
	})
}
