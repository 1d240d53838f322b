package vault

import (
	"context"
	"fmt"
	"strconv"

	"github.com/madoguchi/madoguchi/store"
)

func (v *Vault) admin() (KeyAdmin, error) {
	a, ok := v.kr.(KeyAdmin)
	if !ok {
		return nil, fmt.Errorf("%w: keyring %T does not support rotation", ErrKeyring, v.kr)
	}
	return a, nil
}

// Status describes the keyring and how many data keys each KEK version wraps.
type Status struct {
	KEK       KEKStatus
	DEKs      map[int]int64 // KEK version -> data keys it wraps
	Subjects  int64         // subjects with a data key
	Shredded  int64         // shredded subjects
	Unrotated int64         // data keys not on the current KEK version
}

// Status reads the keyring and the key tables.
func (v *Vault) Status(ctx context.Context) (Status, error) {
	a, err := v.admin()
	if err != nil {
		return Status{}, err
	}
	kst, err := a.KEKStatus(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("%w: %w", ErrKeyring, err)
	}
	st := Status{KEK: kst, DEKs: map[int]int64{}}
	rows, err := v.db.Query(ctx, `SELECT kek_version, count(*) FROM vault_deks GROUP BY kek_version`)
	if err != nil {
		return st, fmt.Errorf("vault: status: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ver int
		var n int64
		if err := rows.Scan(&ver, &n); err != nil {
			return st, fmt.Errorf("vault: status: %w", err)
		}
		st.DEKs[ver] = n
		if ver != kst.Current {
			st.Unrotated += n
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("vault: status: %w", err)
	}
	if err := v.db.QueryRow(ctx, `SELECT count(*) FROM vault_subjects WHERE shredded_at = 0`).Scan(&st.Subjects); err != nil {
		return st, fmt.Errorf("vault: status: %w", err)
	}
	if err := v.db.QueryRow(ctx, `SELECT count(*) FROM vault_subjects WHERE shredded_at <> 0`).Scan(&st.Shredded); err != nil {
		return st, fmt.Errorf("vault: status: %w", err)
	}
	return st, nil
}

// RotateKEK creates a new KEK version, used for every data key wrapped from
// now on (existing ones keep unwrapping under their version until Rewrap
// moves them), and records it in the audit log. It is the operation the
// staff-approval executor runs once a second admin approved the rotation
// (dual control); it does not check approval itself.
func (v *Vault) RotateKEK(ctx context.Context, by Actor) (int, error) {
	a, err := v.admin()
	if err != nil {
		return 0, err
	}
	ver, err := a.Rotate(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w: rotate: %w", ErrKeyring, err)
	}
	// The keyring change is outside the database; it is recorded right
	// after. A failure here is reported so the operator can retry the entry.
	err = v.db.InTx(ctx, func(tx *store.Tx) error {
		return v.record(ctx, tx, by, "", "vault.kek.rotate", "kek/"+strconv.Itoa(ver), nil)
	})
	if err != nil {
		return ver, fmt.Errorf("vault: KEK rotated to version %d but the audit entry failed: %w", ver, err)
	}
	return ver, nil
}

// RewrapReport counts what Rewrap did.
type RewrapReport struct {
	Target    int   // the KEK version keys were moved to
	Rewrapped int64 // data keys re-wrapped
	Batches   int
}

// DefaultRewrapBatch is Rewrap's default batch size.
const DefaultRewrapBatch = 100

// Rewrap re-wraps every data key not on the current KEK version, batch rows
// per transaction (one audit entry per batch). It is idempotent and
// resumable: it selects only keys below the current version, so a second
// run, or a run after a crash, continues where the last stopped. Reads keep
// working throughout; afterwards older KEK versions can be retired.
func (v *Vault) Rewrap(ctx context.Context, batch int, by Actor) (RewrapReport, error) {
	return v.RewrapProgress(ctx, batch, by, nil)
}

// RewrapProgress is Rewrap calling progress (if not nil) with the running
// report after each committed batch.
func (v *Vault) RewrapProgress(ctx context.Context, batch int, by Actor, progress func(RewrapReport)) (RewrapReport, error) {
	var rep RewrapReport
	if batch <= 0 {
		batch = DefaultRewrapBatch
	}
	a, err := v.admin()
	if err != nil {
		return rep, err
	}
	kst, err := a.KEKStatus(ctx)
	if err != nil {
		return rep, fmt.Errorf("%w: %w", ErrKeyring, err)
	}
	rep.Target = kst.Current
	for {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		var n int
		err := v.db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			n, err = v.rewrapBatch(ctx, tx, kst.Current, batch, by)
			return err
		})
		if err != nil {
			return rep, err
		}
		if n == 0 {
			return rep, nil
		}
		rep.Rewrapped += int64(n)
		rep.Batches++
		if progress != nil {
			progress(rep)
		}
	}
}

type dekRow struct {
	s       SubjectRef
	ver     uint32
	kekVer  int
	wrapped []byte
}

func (v *Vault) rewrapBatch(ctx context.Context, tx *store.Tx, target, batch int, by Actor) (int, error) {
	q := `SELECT tenant_id, subject_id, dek_version, kek_version, wrapped FROM vault_deks
		WHERE kek_version < ? ORDER BY kek_version, tenant_id, subject_id, dek_version LIMIT ?`
	if tx.Dialect() == store.Postgres {
		q += ` FOR UPDATE SKIP LOCKED` // several instances may run the job
	}
	rows, err := tx.Query(ctx, q, target, batch)
	if err != nil {
		return 0, fmt.Errorf("vault: rewrap: %w", err)
	}
	var todo []dekRow
	for rows.Next() {
		var r dekRow
		if err := rows.Scan(&r.s.Tenant, &r.s.Subject, &r.ver, &r.kekVer, &r.wrapped); err != nil {
			rows.Close()
			return 0, fmt.Errorf("vault: rewrap: %w", err)
		}
		todo = append(todo, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("vault: rewrap: %w", err)
	}
	if len(todo) == 0 {
		return 0, nil
	}
	now := store.Micros(v.now())
	from := map[int]int{}
	for _, r := range todo {
		w, err := v.kr.Rewrap(ctx, WrappedKey{KEKVersion: r.kekVer, Data: r.wrapped})
		if err != nil {
			return 0, fmt.Errorf("%w: rewrap: %w", ErrKeyring, err)
		}
		if w.KEKVersion < target {
			return 0, fmt.Errorf("%w: rewrap returned version %d, want >= %d", ErrKeyring, w.KEKVersion, target)
		}
		if _, err := tx.Exec(ctx, `UPDATE vault_deks SET kek_version = ?, wrapped = ?, rewrapped_at = ?
			WHERE tenant_id = ? AND subject_id = ? AND dek_version = ? AND kek_version = ?`,
			w.KEKVersion, w.Data, now, r.s.Tenant, r.s.Subject, r.ver, r.kekVer); err != nil {
			return 0, fmt.Errorf("vault: rewrap: %w", err)
		}
		from[r.kekVer]++
	}
	details := map[string]string{"count": strconv.Itoa(len(todo)), "to_version": strconv.Itoa(target)}
	for ver, n := range from {
		details["from_v"+strconv.Itoa(ver)] = strconv.Itoa(n)
	}
	if err := v.record(ctx, tx, by, "", "vault.dek.rewrap", "kek/"+strconv.Itoa(target), details); err != nil {
		return 0, err
	}
	return len(todo), nil
}

// RetireKEK retires every KEK version below minVersion: the keyring stops
// unwrapping them (the key file deletes their key material). It is refused
// with ErrKEKInUse while any data key is still wrapped by such a version
// (run Rewrap first), and minVersion may not exceed the current version.
func (v *Vault) RetireKEK(ctx context.Context, minVersion int, by Actor) error {
	a, err := v.admin()
	if err != nil {
		return err
	}
	kst, err := a.KEKStatus(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeyring, err)
	}
	if minVersion < 1 || minVersion > kst.Current {
		return fmt.Errorf("vault: retire below %d: must be between 1 and the current version %d", minVersion, kst.Current)
	}
	var inUse int64
	if err := v.db.QueryRow(ctx, `SELECT count(*) FROM vault_deks WHERE kek_version < ?`, minVersion).Scan(&inUse); err != nil {
		return fmt.Errorf("vault: retire: %w", err)
	}
	if inUse > 0 {
		return fmt.Errorf("%w: %d data keys below version %d; run rewrap first", ErrKEKInUse, inUse, minVersion)
	}
	if err := a.Retire(ctx, minVersion); err != nil {
		return fmt.Errorf("%w: retire: %w", ErrKeyring, err)
	}
	if v.cache != nil {
		v.cache.purge()
	}
	err = v.db.InTx(ctx, func(tx *store.Tx) error {
		return v.record(ctx, tx, by, "", "vault.kek.retire", "kek/"+strconv.Itoa(minVersion), nil)
	})
	if err != nil {
		return fmt.Errorf("vault: KEK versions below %d retired but the audit entry failed: %w", minVersion, err)
	}
	return nil
}
