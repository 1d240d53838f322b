package revoke

import (
	"context"
	"fmt"
	"strings"

	"github.com/madoguchi/madoguchi/store"
)

// Publish records a revocation of tags inside the revoking transaction tx:
// when tx commits, every Watcher on the store drops the entries carrying any
// of the tags (All drops everything) within its Bound; if tx rolls back,
// nothing happens. The tenant tables need no call: their triggers publish.
func Publish(ctx context.Context, tx *store.Tx, tags ...string) error {
	if len(tags) == 0 {
		return fmt.Errorf("%w: no tag", ErrBadTag)
	}
	for _, t := range tags {
		if !validTag(t) {
			return fmt.Errorf("%w: %q", ErrBadTag, truncate(t))
		}
	}
	if tx.Dialect() == store.Postgres {
		var epoch int64
		return tx.QueryRow(ctx, `SELECT madoguchi_revoke(?)`, strings.Join(tags, " ")).Scan(&epoch)
	}
	_, err := tx.Exec(ctx, `UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1`)
	return err
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
