package store

import (
	"container/list"
	"context"
	"database/sql"
	"strings"
	"sync"
	"time"
)

// stmtCacheSize bounds the prepared statements kept per store: the domain
// packages' constant queries number a few hundred; queries built with a
// variable number of placeholders come and go through the LRU.
const stmtCacheSize = 512

// stmtCache keeps prepared statements by query text for SQLite, whose
// driver otherwise parses and plans every statement again on every call
// (about half the CPU of a small indexed read). database/sql prepares a
// cached *sql.Stmt once per connection and, inside a transaction, reuses
// the preparation on the transaction's own connection (Tx.StmtContext).
// PostgreSQL needs none: pgx keeps its own per-connection statement cache.
//
// Preparing a new statement takes a connection from the pool. A
// transaction already holds one (and on SQLite the write lock), so it
// never waits for a second: a miss inside a transaction runs the query
// directly and asks the cache's preparer to prepare it in the background.
// Otherwise transactions queued on the write lock could hold every pooled
// connection while the lock holder waited for one to prepare.
//
// Evicting closes the statement; database/sql defers the close until
// statements derived from it in open transactions are done, so an
// eviction never breaks a query in flight.
type stmtCache struct {
	db *sql.DB

	mu    sync.Mutex
	order *list.List // of *stmtEntry, most recently used first
	byQ   map[string]*list.Element

	// The background preparer: wanted takes queries missed inside a
	// transaction (dropped when full); stop and done end it.
	wanted   chan string
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

type stmtEntry struct {
	query string
	stmt  *sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	c := &stmtCache{db: db, order: list.New(), byQ: make(map[string]*list.Element),
		wanted: make(chan string, 64), stop: make(chan struct{}), done: make(chan struct{})}
	go c.preparer()
	return c
}

// cacheable: a prepared statement is one statement; text with several
// runs directly, where the driver executes each in turn.
func cacheable(query string) bool {
	return !strings.Contains(strings.TrimRight(query, "; \t\r\n"), ";")
}

// lookup returns query's cached statement, or nil.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byQ[query]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*stmtEntry).stmt
	}
	return nil
}

// inTx returns query's cached statement for use in a transaction, or nil
// after asking the preparer for it (never waiting for a connection).
func (c *stmtCache) inTx(query string) *sql.Stmt {
	if !cacheable(query) {
		return nil
	}
	if s := c.lookup(query); s != nil {
		return s
	}
	select {
	case c.wanted <- query:
	default:
	}
	return nil
}

// get returns query's statement, preparing it on a miss; for callers that
// hold no connection. A statement that does not prepare (a syntax error, a
// missing table) is not cached and get returns nil: the caller runs the
// query directly and reports its error.
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	if !cacheable(query) {
		return nil
	}
	if s := c.lookup(query); s != nil {
		return s
	}
	s, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	return c.add(query, s)
}

// add caches s for query, unless another caller did first (s is then
// closed and theirs returned), and evicts beyond the bound.
func (c *stmtCache) add(query string, s *sql.Stmt) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byQ[query]; ok {
		_ = s.Close()
		c.order.MoveToFront(e)
		return e.Value.(*stmtEntry).stmt
	}
	c.byQ[query] = c.order.PushFront(&stmtEntry{query: query, stmt: s})
	for c.order.Len() > stmtCacheSize {
		last := c.order.Back()
		c.order.Remove(last)
		old := last.Value.(*stmtEntry)
		delete(c.byQ, old.query)
		_ = old.stmt.Close()
	}
	return s
}

// preparer prepares the statements transactions missed, until close.
func (c *stmtCache) preparer() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case q := <-c.wanted:
			if c.lookup(q) != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			go func() {
				select {
				case <-c.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			c.get(ctx, q)
			cancel()
		}
	}
}

// len reports how many statements are cached (tests).
func (c *stmtCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// close stops the preparer and closes every cached statement; closing
// again does nothing (DB.Close may be called more than once).
func (c *stmtCache) close() {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.order.Front(); e != nil; e = e.Next() {
		_ = e.Value.(*stmtEntry).stmt.Close()
	}
	c.order.Init()
	clear(c.byQ)
}
