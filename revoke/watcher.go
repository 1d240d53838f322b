package revoke

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/madoguchi/madoguchi/store"
)

// Defaults and limits.
const (
	DefaultBound = time.Second
	// MaxTagLen bounds one tag; a notification carries at most a few
	// thousand bytes of tags (more become "*", everything).
	MaxTagLen = 256
	// All is the tag that revokes every cached entry.
	All = "*"

	channelPrefix = "madoguchi_revoke:"
	maxBackoff    = 5 * time.Second
)

// Config configures a Watcher.
type Config struct {
	// Bound is the longest a revocation may take to reach this instance
	// (default DefaultBound). Cached entries are served only while the last
	// successful epoch check began less than Bound ago.
	Bound time.Duration
	// Poll is the interval of the epoch check (default Bound/4; at most
	// Bound/2, so one failed check does not stop the cache).
	Poll time.Duration
	// Logger receives state changes (store unreachable, notifications lost);
	// default discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Watcher follows the store's revocations for every Cache built on it. It is
// safe for concurrent use; Run must be running for caches to serve.
type Watcher struct {
	db  *store.DB
	cfg Config
	log *slog.Logger

	// gen counts invalidations; a fill is kept only if gen did not move
	// while it loaded.
	gen atomic.Uint64
	// freshUntil (Unix ns) is when the last successful epoch check stops
	// vouching for the caches.
	freshUntil atomic.Int64

	mu      sync.Mutex // guards known, caches, the counters
	known   int64      // every revocation up to this epoch has been applied
	caches  []invalidator
	stats   Stats
	running atomic.Bool
	// listening is true while a LISTEN connection is open (PostgreSQL);
	// stopListen ends the current one (a connection that looks open but
	// delivered nothing the epoch check found: it is re-opened); lagging
	// counts consecutive epoch checks that were ahead of the notifications.
	listening  atomic.Bool
	stopListen context.CancelFunc
	lagging    int
}

// invalidator is what a Cache offers its Watcher.
type invalidator interface {
	drop(tags map[string]bool)
	flush()
}

// Stats counts what a Watcher did, for tests and metrics.
type Stats struct {
	Epoch         int64 // the last epoch applied
	Notifications int   // notifications applied by tag
	Flushes       int   // times every entry was dropped (epoch jumps, lost notifications, "*")
	PollErrors    int   // failed epoch checks
	Listens       int   // LISTEN connections opened
}

// NewWatcher returns a Watcher over db. It reads nothing until Run.
func NewWatcher(db *store.DB, cfg Config) (*Watcher, error) {
	if db == nil {
		return nil, errors.New("revoke: nil store")
	}
	if cfg.Bound == 0 {
		cfg.Bound = DefaultBound
	}
	if cfg.Bound < 10*time.Millisecond || cfg.Bound > time.Minute {
		return nil, fmt.Errorf("revoke: bound %v outside 10ms..1m", cfg.Bound)
	}
	if cfg.Poll == 0 {
		cfg.Poll = cfg.Bound / 4
	}
	if cfg.Poll <= 0 || cfg.Poll > cfg.Bound/2 {
		return nil, fmt.Errorf("revoke: poll interval %v must be in (0, bound/2]", cfg.Poll)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{db: db, cfg: cfg, log: log}, nil
}

// Bound is the configured revocation bound.
func (w *Watcher) Bound() time.Duration { return w.cfg.Bound }

// Stats returns a snapshot of the counters.
func (w *Watcher) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.Epoch = w.known
	return s
}

// Fresh reports whether caches may serve now: the last successful epoch
// check began less than Bound ago.
func (w *Watcher) Fresh() bool { return w.freshAt(w.cfg.Now()) }

func (w *Watcher) freshAt(now time.Time) bool { return now.UnixNano() < w.freshUntil.Load() }

func (w *Watcher) register(c invalidator) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.caches = append(w.caches, c)
}

// Run checks the epoch every Poll and, on PostgreSQL, listens for
// notifications, until ctx ends. Caches serve only while it runs. Run may
// be called once.
func (w *Watcher) Run(ctx context.Context) {
	if !w.running.CompareAndSwap(false, true) {
		panic("revoke: Watcher.Run called twice")
	}
	var wg sync.WaitGroup
	if w.db.Dialect() == store.Postgres {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.listen(ctx)
		}()
	}
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	failing := false
	for {
		err := w.poll(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true
			w.log.Error("revocation epoch check failing: cached credentials stop being served after the bound", "bound", w.cfg.Bound, "err", err)
		case err == nil && failing:
			failing = false
			w.log.Info("revocation epoch check recovered")
		}
		select {
		case <-ctx.Done():
			w.freshUntil.Store(0)
			wg.Wait()
			return
		case <-t.C:
		}
	}
}

// poll reads the epoch. Everything committed before the read began is
// then applied, so the caches are vouched for until start+Bound.
func (w *Watcher) poll(ctx context.Context) error {
	start := w.cfg.Now()
	qctx, cancel := context.WithTimeout(ctx, w.cfg.Bound/2)
	defer cancel()
	var epoch int64
	if err := w.db.QueryRow(qctx, `SELECT epoch FROM revocation_epoch WHERE id = 1`).Scan(&epoch); err != nil {
		w.mu.Lock()
		w.stats.PollErrors++
		w.mu.Unlock()
		return err
	}
	w.mu.Lock()
	if epoch > w.known {
		// Ahead of the notifications (lost, or not yet delivered): drop
		// everything rather than wait.
		w.flushLocked()
		w.known = epoch
		if w.listening.Load() {
			// Once can be a notification still in flight; twice in a row
			// means the connection delivers nothing: re-open it.
			if w.lagging++; w.lagging >= 2 && w.stopListen != nil {
				w.log.Warn("revocation notifications: the epoch moved without a notification; re-opening the connection")
				w.stopListen()
				w.lagging = 0
			}
		}
	} else {
		w.lagging = 0
	}
	w.mu.Unlock()
	until := start.Add(w.cfg.Bound).UnixNano()
	for {
		cur := w.freshUntil.Load()
		if cur >= until || w.freshUntil.CompareAndSwap(cur, until) {
			return nil
		}
	}
}

// listen keeps a LISTEN connection open, re-opening it with back-off.
func (w *Watcher) listen(ctx context.Context) {
	var channel string
	down := false // logged the current outage already
	backoff := w.cfg.Poll
	sleep := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
		return true
	}
	for ctx.Err() == nil {
		if channel == "" {
			var schema string
			if err := w.db.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
				if !sleep() {
					return
				}
				continue
			}
			channel = channelPrefix + schema
		}
		lctx, stop := context.WithCancel(ctx)
		l, err := w.db.Listen(lctx, channel)
		if err != nil {
			stop()
			if ctx.Err() == nil && !down {
				down = true
				w.log.Warn("revocation notifications: cannot listen; relying on the epoch check until it can", "err", err)
			}
			if !sleep() {
				return
			}
			continue
		}
		backoff = w.cfg.Poll
		if down {
			down = false
			w.log.Info("revocation notifications: listening again")
		}
		w.mu.Lock()
		w.stats.Listens++
		w.stopListen = stop
		w.mu.Unlock()
		w.listening.Store(true)
		for {
			payload, err := l.Wait(lctx)
			if err != nil {
				if lctx.Err() == nil {
					down = true
					w.log.Warn("revocation notifications: connection lost; relying on the epoch check until it is back", "err", err)
				}
				break
			}
			w.notified(payload)
		}
		w.listening.Store(false)
		w.mu.Lock()
		w.stopListen = nil
		w.mu.Unlock()
		stop()
		l.Close()
	}
}

// notified applies one notification.
func (w *Watcher) notified(payload string) {
	epoch, tags, ok := parseNotification(payload)
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case !ok:
		// Not ours or garbled: assume the worst.
		w.log.Warn("revocation notifications: unreadable payload; dropping every cached entry")
		w.flushLocked()
	case tags[All]:
		w.flushLocked()
		w.known = max(w.known, epoch)
	case epoch <= w.known:
		// Already covered by a flush; dropping again is harmless.
		w.dropLocked(tags)
	case epoch == w.known+1:
		w.dropLocked(tags)
		w.known = epoch
	default:
		// A gap: a notification was lost.
		w.flushLocked()
		w.known = epoch
	}
}

// Invalidate drops this instance's cached entries carrying any of tags at
// once, as a notification would: the instance that committed a revocation
// (an administrator disabling a client through its API) refuses the
// revoked credential on the very next request instead of after its next
// poll. It complements, never replaces, the store-side publication that
// reaches the other instances within Bound. A nil Watcher does nothing.
func (w *Watcher) Invalidate(tags ...string) {
	if w == nil || len(tags) == 0 {
		return
	}
	m := make(map[string]bool, len(tags))
	for _, t := range tags {
		m[t] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dropLocked(m)
}

func (w *Watcher) dropLocked(tags map[string]bool) {
	w.gen.Add(1)
	w.stats.Notifications++
	for _, c := range w.caches {
		c.drop(tags)
	}
}

func (w *Watcher) flushLocked() {
	w.gen.Add(1)
	w.stats.Flushes++
	for _, c := range w.caches {
		c.flush()
	}
}

// parseNotification reads "<epoch> <tag> <tag> …": a positive decimal epoch
// and at least one tag, separated by single spaces.
func parseNotification(p string) (int64, map[string]bool, bool) {
	if len(p) > 8000 {
		return 0, nil, false
	}
	num, rest, ok := strings.Cut(p, " ")
	if !ok || num == "" || len(num) > 19 || rest == "" {
		return 0, nil, false
	}
	for _, c := range []byte(num) {
		if c < '0' || c > '9' {
			return 0, nil, false
		}
	}
	epoch, err := strconv.ParseInt(num, 10, 64)
	if err != nil || epoch <= 0 {
		return 0, nil, false
	}
	tags := map[string]bool{}
	for _, t := range strings.Split(rest, " ") {
		if !validTag(t) {
			return 0, nil, false
		}
		tags[t] = true
	}
	return epoch, tags, true
}

// validTag: 1..MaxTagLen printable ASCII bytes without spaces.
func validTag(t string) bool {
	if t == "" || len(t) > MaxTagLen {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' {
			return false
		}
	}
	return true
}
