package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// ErrNoNotifications: the store's dialect has no LISTEN/NOTIFY (SQLite).
var ErrNoNotifications = errors.New("store: notifications need PostgreSQL")

// Listener is one PostgreSQL connection, taken out of the pool, that LISTENs
// on a channel. It is owned by one goroutine: Wait is not safe for
// concurrent use. After Wait fails for any reason but its context, the
// connection is broken: Close it and Listen again (notifications sent in the
// meantime are lost; the caller must have another way to catch up).
type Listener struct {
	conn   *sql.Conn
	broken bool
}

// Listen takes a connection from the pool and LISTENs on channel. Channel
// names are case-sensitive strings (quoted as an identifier). On SQLite it
// answers ErrNoNotifications.
func (db *DB) Listen(ctx context.Context, channel string) (*Listener, error) {
	if db.dialect != Postgres {
		return nil, ErrNoNotifications
	}
	c, err := db.sql.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: listen: %w", err)
	}
	if _, err := c.ExecContext(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
		c.Close()
		return nil, fmt.Errorf("store: listen: %w", err)
	}
	return &Listener{conn: c}, nil
}

// Wait blocks until a notification arrives on the channel or ctx ends, and
// returns the notification's payload.
func (l *Listener) Wait(ctx context.Context) (string, error) {
	if l.broken {
		return "", errors.New("store: listener connection is broken")
	}
	var payload string
	err := l.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: listen: unexpected driver connection %T", dc)
		}
		n, err := c.Conn().WaitForNotification(ctx)
		if err != nil {
			// A connection interrupted in the middle of a wait is not
			// reused for anything else: discard it.
			l.broken = true
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		payload = n.Payload
		return nil
	})
	return payload, err
}

// Close returns the connection to the pool, or discards it if it broke
// (database/sql then opens a new one when needed).
func (l *Listener) Close() error {
	if l.broken {
		_ = l.conn.Raw(func(any) error { return driver.ErrBadConn })
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := l.conn.ExecContext(ctx, "UNLISTEN *"); err != nil {
			_ = l.conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}
	return l.conn.Close()
}
