package fraud

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Watchlist version states.
const (
	ListPending    = "pending"    // imported, waiting for a second person's approval
	ListActive     = "active"     // screened against
	ListSuperseded = "superseded" // an earlier active version
	ListRejected   = "rejected"
)

// chunkEntries is how many entries one sealed chunk holds.
const chunkEntries = 20_000

func listSubject(tenant, list string) vault.SubjectRef {
	return vault.SubjectRef{Tenant: tenant, Subject: "watchlist/" + list}
}

func chunkAAD(list string, version, chunk int) []byte {
	return vault.AAD("fraud.watchlist", list, fmt.Sprint(version), fmt.Sprint(chunk))
}

// Staged is an imported list version waiting for approval.
type Staged struct {
	Tenant, List string
	Version      int
	Entries      int
	SHA256       string // of the imported file
}

// StageList parses a list file, refusing a malformed one whole, and stores
// it sealed as a pending version of (tenant, list) with an audit entry by
// a. It becomes active only through ActivateList, which the second person
// of the dual control runs (staff approval kind fraud.watchlist).
func (s *Service) StageList(ctx context.Context, a Actor, tenant, list, format string, r io.Reader) (*Staged, error) {
	if !validID(list, MaxListIDLen) {
		return nil, &ListError{Field: "list_id", Reason: fmt.Sprintf("1-%d printable ASCII characters required", MaxListIDLen)}
	}
	entries, sum, err := ReadList(format, list, r)
	if err != nil {
		return nil, err
	}
	return s.StageEntries(ctx, a, tenant, list, entries, sum)
}

// ReadList is ParseList that also returns the SHA-256 (hex) of the bytes
// read: what StageEntries records and the approval names.
func ReadList(format, list string, r io.Reader) ([]ListEntry, string, error) {
	h := sha256.New()
	entries, err := ParseList(format, list, io.TeeReader(r, h))
	if err != nil {
		return nil, "", err
	}
	return entries, hex.EncodeToString(h.Sum(nil)), nil
}

// StageEntries is StageList for entries already read by ReadList (so a
// command can refuse a malformed file before asking for credentials).
func (s *Service) StageEntries(ctx context.Context, a Actor, tenant, list string, entries []ListEntry, sum string) (*Staged, error) {
	if !validID(list, MaxListIDLen) || len(entries) == 0 {
		return nil, &ListError{Field: "list_id", Reason: "a list id and at least one entry are required"}
	}
	for i := range entries {
		if entries[i].ListID != list {
			return nil, &ListError{Record: i + 1, Field: "list_id", Reason: "every entry must belong to the list being imported"}
		}
		if err := checkEntry(&entries[i]); err != nil {
			err.Record = i + 1
			return nil, err
		}
	}
	st := &Staged{Tenant: tenant, List: list, Entries: len(entries), SHA256: sum}
	now := store.Micros(s.now())
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM fraud_watchlists WHERE tenant_id = ? AND list_id = ?`,
			tenant, list).Scan(&st.Version); err != nil {
			return err
		}
		for c := 0; c*chunkEntries < len(entries); c++ {
			body, err := json.Marshal(entries[c*chunkEntries : min(len(entries), (c+1)*chunkEntries)])
			if err != nil {
				return err
			}
			sealed, err := s.cfg.Vault.Seal(ctx, tx, listSubject(tenant, list), chunkAAD(list, st.Version, c), body)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO fraud_watchlist_chunks (tenant_id, list_id, version, chunk, body) VALUES (?, ?, ?, ?, ?)`,
				tenant, list, st.Version, c, sealed); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO fraud_watchlists (tenant_id, list_id, version, state, entries, sha256, staged_by, approved_by, created_at, activated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, 0)`, tenant, list, st.Version, ListPending, st.Entries, st.SHA256, a.Kind+":"+a.ID, now); err != nil {
			return err
		}
		return s.record(ctx, tx, a, tenant, "fraud.watchlist.stage", "watchlist/"+list, audit.OutcomeOK,
			map[string]string{"version": fmt.Sprint(st.Version), "entries": fmt.Sprint(st.Entries), "sha256": st.SHA256})
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// ListActivation is the payload of a fraud.watchlist approval.
type ListActivation struct {
	Tenant  string `json:"tenant"`
	List    string `json:"list"`
	Version int    `json:"version"`
	SHA256  string `json:"sha256"`
	Entries int    `json:"entries"`
}

// ActivateList makes a pending version active (the earlier active version
// superseded) inside tx, the approval's transaction, audited as by. The
// payload must name the staged version exactly (its file digest too).
func (s *Service) ActivateList(ctx context.Context, tx *store.Tx, by Actor, act ListActivation) error {
	var (
		state, sum string
		n          int
	)
	err := tx.QueryRow(ctx, `SELECT state, sha256, entries FROM fraud_watchlists WHERE tenant_id = ? AND list_id = ? AND version = ?`,
		act.Tenant, act.List, act.Version).Scan(&state, &sum, &n)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: no staged version %d of list %s", ErrNotFound, act.Version, act.List)
	}
	if err != nil {
		return err
	}
	if state != ListPending || sum != act.SHA256 || n != act.Entries {
		return fmt.Errorf("%w: version %d of list %s is %s or differs from the approval request", ErrInvalidInput, act.Version, act.List, state)
	}
	now := store.Micros(s.now())
	if _, err := tx.Exec(ctx, `UPDATE fraud_watchlists SET state = ? WHERE tenant_id = ? AND list_id = ? AND state = ?`,
		ListSuperseded, act.Tenant, act.List, ListActive); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE fraud_watchlists SET state = ?, approved_by = ?, activated_at = ? WHERE tenant_id = ? AND list_id = ? AND version = ?`,
		ListActive, by.Kind+":"+by.ID, now, act.Tenant, act.List, act.Version); err != nil {
		return err
	}
	return s.record(ctx, tx, by, act.Tenant, "fraud.watchlist.activate", "watchlist/"+act.List, audit.OutcomeOK,
		map[string]string{"version": fmt.Sprint(act.Version), "entries": fmt.Sprint(act.Entries), "sha256": act.SHA256})
}

// ListVersion describes one stored version of a list.
type ListVersion struct {
	Tenant, List, State, SHA256, StagedBy, ApprovedBy string
	Version, Entries                                  int
	CreatedAt, ActivatedAt                            time.Time
}

// Lists returns the versions of tenant's lists, newest first.
func (s *Service) Lists(ctx context.Context, tenant string) ([]ListVersion, error) {
	rows, err := s.db.Query(ctx, `SELECT list_id, version, state, entries, sha256, staged_by, approved_by, created_at, activated_at
		FROM fraud_watchlists WHERE tenant_id = ? ORDER BY list_id, version DESC`, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ListVersion
	for rows.Next() {
		v := ListVersion{Tenant: tenant}
		var c, a int64
		if err := rows.Scan(&v.List, &v.Version, &v.State, &v.Entries, &v.SHA256, &v.StagedBy, &v.ApprovedBy, &c, &a); err != nil {
			return nil, err
		}
		v.CreatedAt, v.ActivatedAt = store.FromMicros(c), store.FromMicros(a)
		out = append(out, v)
	}
	return out, rows.Err()
}

// screener holds the compiled active lists of every tenant.
type screener struct {
	mu    sync.RWMutex
	seed  maphash.Seed
	lists map[listKey]*compiled
}

type listKey struct{ tenant, list string }

// compiled is one list version: the hashes of every entry's name keys,
// sorted, with the entry each belongs to; and per entry its id and birth
// date. 64-bit hashes of the keys: two different keys collide with
// probability about 2^-64 per pair; a hit names its entry, which the
// reviewer compares with the applicant.
type compiled struct {
	version int
	hashes  []uint64
	refs    []uint32
	ids     []string
	births  []string
}

func newScreener() *screener {
	return &screener{seed: maphash.MakeSeed(), lists: map[listKey]*compiled{}}
}

func (sc *screener) compile(version int, entries []ListEntry) *compiled {
	c := &compiled{version: version, ids: make([]string, len(entries)), births: make([]string, len(entries))}
	type kv struct {
		h   uint64
		ref uint32
	}
	// Normalising is most of the work: it runs on every core.
	workers := runtime.GOMAXPROCS(0)
	parts := make([][]kv, workers)
	per := (len(entries) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * per; i < min(len(entries), (w+1)*per); i++ {
				e := &entries[i]
				c.ids[i], c.births[i] = e.ID, e.BirthDate
				for _, n := range e.names() {
					for _, k := range nameKeys(n) {
						parts[w] = append(parts[w], kv{maphash.String(sc.seed, k), uint32(i)})
					}
				}
			}
		}()
	}
	wg.Wait()
	var all []kv
	for _, p := range parts {
		all = append(all, p...)
	}
	parts = nil
	slices.SortFunc(all, func(a, b kv) int { return cmp.Or(cmp.Compare(a.h, b.h), cmp.Compare(a.ref, b.ref)) })
	all = slices.Compact(all)
	c.hashes, c.refs = make([]uint64, len(all)), make([]uint32, len(all))
	for i, x := range all {
		c.hashes[i], c.refs[i] = x.h, x.ref
	}
	return c
}

// bytes is the compiled list's memory (without the Go string headers'
// backing of ids and birth dates, counted at their length).
func (c *compiled) bytes() int {
	n := 12 * len(c.hashes)
	for i := range c.ids {
		n += 32 + len(c.ids[i]) + len(c.births[i])
	}
	return n
}

// lookup returns the entries of c sharing a key hash with hs.
func (c *compiled) lookup(hs []uint64) []uint32 {
	var out []uint32
	for _, h := range hs {
		i, _ := slices.BinarySearch(c.hashes, h)
		for ; i < len(c.hashes) && c.hashes[i] == h; i++ {
			out = append(out, c.refs[i])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// listHit is one watchlist entry an applicant matched.
type listHit struct {
	list    string
	version int
	entry   string
	byBirth bool // the birth dates agree (false: the entry has none)
}

// match screens names (and birth date, "" if unknown) against tenant's
// active lists. An entry with a birth date matches only the same date.
func (sc *screener) match(tenant string, names []string, birth string) []listHit {
	var hs []uint64
	for _, n := range names {
		for _, k := range nameKeys(n) {
			hs = append(hs, maphash.String(sc.seed, k))
		}
	}
	if len(hs) == 0 {
		return nil
	}
	sc.mu.RLock()
	defer sc.mu.RUnlock()
	var out []listHit
	for k, c := range sc.lists {
		if k.tenant != tenant {
			continue
		}
		for _, ref := range c.lookup(hs) {
			eb := c.births[ref]
			if eb != "" && birth != "" && eb != birth {
				continue
			}
			out = append(out, listHit{list: k.list, version: c.version, entry: c.ids[ref], byBirth: eb != "" && eb == birth})
		}
	}
	slices.SortFunc(out, func(a, b listHit) int {
		return cmp.Or(strings.Compare(a.list, b.list), strings.Compare(a.entry, b.entry))
	})
	return out
}

func (sc *screener) set(tenant, list string, c *compiled) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if c == nil {
		delete(sc.lists, listKey{tenant, list})
		return
	}
	sc.lists[listKey{tenant, list}] = c
}

func (sc *screener) versions() map[listKey]int {
	sc.mu.RLock()
	defer sc.mu.RUnlock()
	out := make(map[listKey]int, len(sc.lists))
	for k, c := range sc.lists {
		out[k] = c.version
	}
	return out
}

// maxListHits bounds the entries one screening names.
const maxListHits = 10

// screen is the watchlist check of Check.
func (s *Service) screen(ctx context.Context, in Input) ([]Finding, error) {
	if err := s.SyncLists(ctx); err != nil {
		return nil, err
	}
	hits := s.lists.match(in.Tenant, []string{in.Name, in.NameKana, in.NameLatin}, in.BirthDate)
	var out []Finding
	for i, h := range hits {
		if i == maxListHits {
			break
		}
		how := "by name (the entry has no birth date)"
		if h.byBirth {
			how = "by name and birth date"
		}
		out = append(out, Finding{Code: ReasonWatchlist, Entry: fmt.Sprintf("%s/%s@v%d", h.list, h.entry, h.version),
			Detail: fmt.Sprintf("the verified identity matches entry %s of watchlist %s (version %d) %s: a person compares them", h.entry, h.list, h.version, how)})
	}
	return out, nil
}

// SyncLists brings the compiled lists in line with the active versions in
// the store (a version activated by another process, a list retired).
// Check calls it before screening; it costs one query when nothing
// changed.
func (s *Service) SyncLists(ctx context.Context) error {
	rows, err := s.db.Query(ctx, `SELECT tenant_id, list_id, version FROM fraud_watchlists WHERE state = ?`, ListActive)
	if err != nil {
		return err
	}
	want := map[listKey]int{}
	for rows.Next() {
		var (
			k listKey
			v int
		)
		if err := rows.Scan(&k.tenant, &k.list, &v); err != nil {
			rows.Close()
			return err
		}
		want[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	have := s.lists.versions()
	for k := range have {
		if _, ok := want[k]; !ok {
			s.lists.set(k.tenant, k.list, nil)
		}
	}
	for k, v := range want {
		if have[k] == v {
			continue
		}
		entries, err := s.listEntries(ctx, k.tenant, k.list, v)
		if err != nil {
			return err
		}
		s.lists.set(k.tenant, k.list, s.lists.compile(v, entries))
	}
	return nil
}

// listEntries opens a stored list version.
func (s *Service) listEntries(ctx context.Context, tenant, list string, version int) ([]ListEntry, error) {
	rows, err := s.db.Query(ctx, `SELECT chunk, body FROM fraud_watchlist_chunks WHERE tenant_id = ? AND list_id = ? AND version = ? ORDER BY chunk`,
		tenant, list, version)
	if err != nil {
		return nil, err
	}
	type chunk struct {
		n    int
		body []byte
	}
	var cs []chunk
	for rows.Next() {
		var c chunk
		if err := rows.Scan(&c.n, &c.body); err != nil {
			rows.Close()
			return nil, err
		}
		cs = append(cs, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []ListEntry
	for i, c := range cs {
		if c.n != i {
			return nil, fmt.Errorf("fraud: watchlist %s v%d is missing chunk %d", list, version, i)
		}
		pt, err := s.cfg.Vault.Open(ctx, s.db, listSubject(tenant, list), chunkAAD(list, version, c.n), c.body)
		if err != nil {
			return nil, fmt.Errorf("fraud: watchlist %s v%d chunk %d: %w", list, version, c.n, err)
		}
		var es []ListEntry
		if err := json.Unmarshal(pt, &es); err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}
