package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Errors with a documented contract; test with errors.Is.
var (
	// ErrDecrypt: the ciphertext does not authenticate under the subject's
	// data key with the given aad (tampered, wrong aad, wrong subject).
	ErrDecrypt = errors.New("vault: decryption failed")
	// ErrShredded: the subject's data key was deleted; its data is gone.
	ErrShredded = errors.New("vault: subject is shredded")
	// ErrFormat: the bytes are not a vault ciphertext this version reads.
	ErrFormat = errors.New("vault: malformed ciphertext")
	// ErrTooLarge: a plaintext or blob exceeds the configured limit.
	ErrTooLarge = errors.New("vault: too large")
	// ErrInvalidSubject: a SubjectRef is empty, too long or not printable UTF-8.
	ErrInvalidSubject = errors.New("vault: invalid subject reference")
	// ErrKEKInUse: a KEK version cannot be retired while data keys use it.
	ErrKEKInUse = errors.New("vault: KEK version still wraps data keys")
	// ErrKeyring: the keyring failed or refused (unknown or retired version,
	// forged wrapped key, KMS unreachable).
	ErrKeyring = errors.New("vault: keyring")
)

// MaxIDLen bounds SubjectRef.Tenant and SubjectRef.Subject (bytes).
const MaxIDLen = 128

// DefaultMaxPlaintext is the default limit on one sealed plaintext.
const DefaultMaxPlaintext = 32 << 20

// SubjectRef names a data subject: the person whose data is sealed, within a
// tenant. Both are opaque ids (never names or document numbers).
type SubjectRef struct {
	Tenant  string
	Subject string
}

func (s SubjectRef) validate() error {
	for _, f := range []struct{ name, v string }{{"tenant", s.Tenant}, {"subject", s.Subject}} {
		if f.v == "" || len(f.v) > MaxIDLen || !utf8.ValidString(f.v) {
			return fmt.Errorf("%w: %s must be 1-%d bytes of UTF-8", ErrInvalidSubject, f.name, MaxIDLen)
		}
		for _, r := range f.v {
			if r < 0x20 || r == 0x7f {
				return fmt.Errorf("%w: %s contains a control character", ErrInvalidSubject, f.name)
			}
		}
	}
	return nil
}

// LogValue shows the opaque ids.
func (s SubjectRef) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tenant", s.Tenant), slog.String("subject", s.Subject))
}

// Actor is who causes a security-relevant change, for the audit entry.
// Kind is audit.ActorClient, audit.ActorStaff or audit.ActorSystem.
type Actor struct {
	Kind      string
	ID        string
	RequestID string
}

// System is the actor for changes the server makes on its own (creating a
// data key on first use, scheduled jobs).
var System = Actor{Kind: audit.ActorSystem}

// Auditor appends an audit entry inside the caller's transaction
// (*audit.Log implements it).
type Auditor interface {
	Append(ctx context.Context, tx *store.Tx, e audit.Entry) (uint64, error)
}

// Querier reads rows: *store.DB and *store.Tx both qualify, so Open works
// inside or outside a transaction.
type Querier interface {
	QueryRow(ctx context.Context, query string, args ...any) *store.Row
}

// Vault seals and opens personal data under per-subject data keys. It is safe
// for concurrent use.
type Vault struct {
	kr    Keyring
	db    *store.DB
	audit Auditor
	cache *dekCache
	blobs BlobStore
	now   func() time.Time
	max   int
}

type options struct {
	cacheSize int
	cacheTTL  time.Duration
	blobs     BlobStore
	now       func() time.Time
	max       int
}

// Option configures New.
type Option func(*options)

// WithDEKCache sets the unwrapped-DEK cache: at most size keys, each kept at
// most ttl after it was unwrapped (default 1024 keys, 1 minute). size 0
// disables it; every Open then asks the keyring.
func WithDEKCache(size int, ttl time.Duration) Option {
	return func(o *options) { o.cacheSize, o.cacheTTL = size, ttl }
}

// WithBlobs gives the vault a blob store for SealBlob and OpenBlob.
func WithBlobs(b BlobStore) Option { return func(o *options) { o.blobs = b } }

// WithClock sets the clock for bookkeeping columns (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithMaxPlaintext sets the largest plaintext Seal accepts (default 32 MiB).
func WithMaxPlaintext(n int) Option { return func(o *options) { o.max = n } }

// New returns a vault over the keyring kr and the migrated store db. Every
// data-key creation, shred, rotation, rewrap and retirement appends an entry
// to a (in the same transaction where there is one). kr, db and a are
// required: a missing keyring is a startup error, never plaintext at rest.
func New(kr Keyring, db *store.DB, a Auditor, opts ...Option) (*Vault, error) {
	if kr == nil || db == nil || a == nil {
		return nil, errors.New("vault: New needs a keyring, a store and an auditor")
	}
	o := options{cacheSize: 1024, cacheTTL: time.Minute, now: time.Now, max: DefaultMaxPlaintext}
	for _, f := range opts {
		f(&o)
	}
	if o.cacheSize < 0 || o.cacheTTL < 0 || o.max <= 0 {
		return nil, errors.New("vault: negative cache size or TTL, or non-positive plaintext limit")
	}
	v := &Vault{kr: kr, db: db, audit: a, blobs: o.blobs, now: o.now, max: o.max}
	if o.cacheSize > 0 && o.cacheTTL > 0 {
		v.cache = newDEKCache(o.cacheSize, o.cacheTTL, o.now)
	}
	return v, nil
}

// Seal encrypts plaintext for subject s, bound to aad (the record's identity,
// see AAD), inside tx. The subject's data key is created on first use in the
// same transaction. A shredded subject is refused with ErrShredded.
func (v *Vault) Seal(ctx context.Context, tx *store.Tx, s SubjectRef, aad, plaintext []byte) ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if len(plaintext) > v.max {
		return nil, fmt.Errorf("%w: plaintext is %d bytes, limit %d", ErrTooLarge, len(plaintext), v.max)
	}
	dek, ver, err := v.sealingKey(ctx, tx, s)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	return sealWith(dek, ver, s, aad, plaintext)
}

func sealWith(dek []byte, ver uint32, s SubjectRef, aad, plaintext []byte) ([]byte, error) {
	g, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, overhead+len(plaintext))
	out = appendPrefix(out, ver)
	out = out[:headerLen]
	if _, err := rand.Read(out[prefixLen:headerLen]); err != nil {
		return nil, fmt.Errorf("vault: nonce: %w", err)
	}
	return g.Seal(out, out[prefixLen:headerLen], plaintext, gcmAAD(out[:prefixLen], s, aad)), nil
}

// Open decrypts a ciphertext sealed by Seal for subject s with the same aad.
// q is the store or a transaction. Errors: ErrFormat (not a vault
// ciphertext), ErrShredded (the subject's key is gone), ErrDecrypt (tampered,
// wrong aad or subject), ErrKeyring.
func (v *Vault) Open(ctx context.Context, q Querier, s SubjectRef, aad, ciphertext []byte) ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	h, body, err := parseHeader(ciphertext)
	if err != nil {
		return nil, err
	}
	dek, err := v.openingKey(ctx, q, s, h.dekVersion)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	g, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	pt, err := g.Open(nil, h.nonce, body, gcmAAD(ciphertext[:prefixLen], s, aad))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// Shred deletes every data key of subject s and marks it shredded, inside
// tx, with an audit entry by actor by. Afterwards every record and blob
// sealed for s fails to open with ErrShredded, on every instance (Open always
// reads the key row; the DEK cache only saves the keyring call). Shredding
// is idempotent; a subject never sealed for is marked too.
func (v *Vault) Shred(ctx context.Context, tx *store.Tx, s SubjectRef, by Actor) error {
	if err := s.validate(); err != nil {
		return err
	}
	now := store.Micros(v.now())
	if _, err := tx.Exec(ctx, `INSERT INTO vault_subjects (tenant_id, subject_id, created_at, shredded_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant_id, subject_id) DO UPDATE SET shredded_at = excluded.shredded_at
		WHERE vault_subjects.shredded_at = 0`, s.Tenant, s.Subject, now, now); err != nil {
		return fmt.Errorf("vault: shred: %w", err)
	}
	res, err := tx.Exec(ctx, `DELETE FROM vault_deks WHERE tenant_id = ? AND subject_id = ?`, s.Tenant, s.Subject)
	if err != nil {
		return fmt.Errorf("vault: shred: %w", err)
	}
	n, _ := res.RowsAffected()
	if v.cache != nil {
		v.cache.evictSubject(s)
	}
	return v.record(ctx, tx, by, s.Tenant, "vault.subject.shred", subjectObject(s), map[string]string{"deks_deleted": fmt.Sprint(n)})
}

// Shredded reports whether subject s has been shredded.
func (v *Vault) Shredded(ctx context.Context, q Querier, s SubjectRef) (bool, error) {
	var at int64
	err := q.QueryRow(ctx, `SELECT shredded_at FROM vault_subjects WHERE tenant_id = ? AND subject_id = ?`, s.Tenant, s.Subject).Scan(&at)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("vault: read subject: %w", err)
	}
	return at != 0, nil
}

func subjectObject(s SubjectRef) string { return "subject/" + s.Subject }

// record appends an audit entry in tx.
func (v *Vault) record(ctx context.Context, tx *store.Tx, by Actor, tenant, action, object string, details map[string]string) error {
	_, err := v.audit.Append(ctx, tx, audit.Entry{
		Time:      v.now(),
		ActorKind: by.Kind,
		ActorID:   by.ID,
		TenantID:  tenant,
		Action:    action,
		Object:    object,
		RequestID: by.RequestID,
		Outcome:   audit.OutcomeOK,
		Details:   details,
	})
	if err != nil {
		return fmt.Errorf("vault: audit %s: %w", action, err)
	}
	return nil
}

// sealingKey returns a copy of the subject's newest data key and its
// version, creating version 1 if the subject has none. The caller clears it.
func (v *Vault) sealingKey(ctx context.Context, tx *store.Tx, s SubjectRef) ([]byte, uint32, error) {
	var (
		ver     uint32
		kekVer  int
		wrapped []byte
	)
	err := tx.QueryRow(ctx, `SELECT dek_version, kek_version, wrapped FROM vault_deks
		WHERE tenant_id = ? AND subject_id = ? ORDER BY dek_version DESC LIMIT 1`, s.Tenant, s.Subject).Scan(&ver, &kekVer, &wrapped)
	switch {
	case err == nil:
		dek, err := v.unwrap(ctx, s, ver, WrappedKey{KEKVersion: kekVer, Data: wrapped})
		return dek, ver, err
	case !errors.Is(err, store.ErrNotFound):
		return nil, 0, fmt.Errorf("vault: read data key: %w", err)
	}
	return v.createKey(ctx, tx, s)
}

// createKey creates the subject's first data key under the subject row lock
// (see migration 0003): a concurrent Shred either finishes first, and this
// sees the tombstone, or waits for this transaction and then deletes the key.
func (v *Vault) createKey(ctx context.Context, tx *store.Tx, s SubjectRef) ([]byte, uint32, error) {
	now := store.Micros(v.now())
	if _, err := tx.Exec(ctx, `INSERT INTO vault_subjects (tenant_id, subject_id, created_at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id, subject_id) DO NOTHING`, s.Tenant, s.Subject, now); err != nil {
		return nil, 0, fmt.Errorf("vault: create subject: %w", err)
	}
	lock := `SELECT shredded_at FROM vault_subjects WHERE tenant_id = ? AND subject_id = ?`
	if tx.Dialect() == store.Postgres {
		lock += ` FOR UPDATE`
	}
	var shredded int64
	if err := tx.QueryRow(ctx, lock, s.Tenant, s.Subject).Scan(&shredded); err != nil {
		return nil, 0, fmt.Errorf("vault: lock subject: %w", err)
	}
	if shredded != 0 {
		return nil, 0, ErrShredded
	}
	// Another transaction may have created the key while we waited.
	var (
		kekVer  int
		wrapped []byte
	)
	err := tx.QueryRow(ctx, `SELECT kek_version, wrapped FROM vault_deks WHERE tenant_id = ? AND subject_id = ? AND dek_version = 1`,
		s.Tenant, s.Subject).Scan(&kekVer, &wrapped)
	if err == nil {
		dek, err := v.unwrap(ctx, s, 1, WrappedKey{KEKVersion: kekVer, Data: wrapped})
		return dek, 1, err
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, 0, fmt.Errorf("vault: read data key: %w", err)
	}
	const ver = 1
	dek := make([]byte, dekLen)
	if _, err := rand.Read(dek); err != nil {
		return nil, 0, fmt.Errorf("vault: generate data key: %w", err)
	}
	bound := bindDEK(s, ver, dek)
	defer clear(bound)
	w, err := v.kr.Wrap(ctx, bound)
	if err != nil {
		clear(dek)
		return nil, 0, fmt.Errorf("%w: wrap: %w", ErrKeyring, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO vault_deks (tenant_id, subject_id, dek_version, kek_version, wrapped, created_at, rewrapped_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, s.Tenant, s.Subject, ver, w.KEKVersion, w.Data, now, now); err != nil {
		clear(dek)
		return nil, 0, fmt.Errorf("vault: store data key: %w", err)
	}
	if err := v.record(ctx, tx, System, s.Tenant, "vault.dek.create", subjectObject(s),
		map[string]string{"dek_version": "1", "kek_version": fmt.Sprint(w.KEKVersion)}); err != nil {
		clear(dek)
		return nil, 0, err
	}
	if v.cache != nil {
		// Keyed by the wrapped bytes: if this transaction rolls back, no row
		// will ever match the entry and it ages out.
		v.cache.put(s, ver, w, dek)
	}
	return dek, ver, nil
}

// openingKey returns a copy of data key version ver of subject s.
func (v *Vault) openingKey(ctx context.Context, q Querier, s SubjectRef, ver uint32) ([]byte, error) {
	var (
		kekVer  int
		wrapped []byte
	)
	err := q.QueryRow(ctx, `SELECT kek_version, wrapped FROM vault_deks WHERE tenant_id = ? AND subject_id = ? AND dek_version = ?`,
		s.Tenant, s.Subject, ver).Scan(&kekVer, &wrapped)
	if errors.Is(err, store.ErrNotFound) {
		shredded, serr := v.Shredded(ctx, q, s)
		if serr != nil {
			return nil, serr
		}
		if shredded {
			return nil, ErrShredded
		}
		// No key ever existed for this subject and version: the ciphertext
		// was not sealed for this subject.
		return nil, ErrDecrypt
	}
	if err != nil {
		return nil, fmt.Errorf("vault: read data key: %w", err)
	}
	return v.unwrap(ctx, s, ver, WrappedKey{KEKVersion: kekVer, Data: wrapped})
}

// unwrap returns a copy of the data key in w, from the cache or the keyring,
// after checking its binding to (s, ver).
func (v *Vault) unwrap(ctx context.Context, s SubjectRef, ver uint32, w WrappedKey) ([]byte, error) {
	if v.cache != nil {
		if dek, ok := v.cache.get(s, ver, w); ok {
			return dek, nil
		}
	}
	bound, err := v.kr.Unwrap(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("%w: unwrap: %w", ErrKeyring, err)
	}
	defer clear(bound)
	dek, err := unbindDEK(s, ver, bound)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyring, err)
	}
	if v.cache != nil {
		v.cache.put(s, ver, w, dek)
	}
	return dek, nil
}

func binding(s SubjectRef, ver uint32) [32]byte {
	b := appendLP(nil, []byte(s.Tenant))
	b = appendLP(b, []byte(s.Subject))
	b = binary.BigEndian.AppendUint32(b, ver)
	return sha256.Sum256(b)
}

func bindDEK(s SubjectRef, ver uint32, dek []byte) []byte {
	h := binding(s, ver)
	b := make([]byte, 0, boundDEKLen)
	b = append(b, dekMagic...)
	b = append(b, h[:]...)
	return append(b, dek...)
}

func unbindDEK(s SubjectRef, ver uint32, bound []byte) ([]byte, error) {
	if len(bound) != boundDEKLen || string(bound[:len(dekMagic)]) != dekMagic {
		return nil, errBinding
	}
	h := binding(s, ver)
	if string(bound[len(dekMagic):len(dekMagic)+32]) != string(h[:]) {
		return nil, errBinding
	}
	return append([]byte(nil), bound[len(dekMagic)+32:]...), nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault: cipher: %w", err)
	}
	return cipher.NewGCM(b)
}
