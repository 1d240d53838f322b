package vault

import (
	"context"
	"errors"
	"fmt"

	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/store"
)

// BlobStore stores sealed blobs (*blob.Store implements it).
type BlobStore interface {
	Put(ctx context.Context, data []byte) (blob.Ref, error)
	Get(ctx context.Context, r blob.Ref) ([]byte, error)
}

// SealBlob seals plaintext for subject s bound to aad and stores the
// ciphertext as a blob, before the record that will point at it: the caller
// then calls (*blob.Store).Attach with the returned Ref inside the record's
// transaction. If the subject has no data key yet, it is created in a short
// transaction of its own (a key without data is harmless). The plaintext
// never reaches the blob store.
func (v *Vault) SealBlob(ctx context.Context, s SubjectRef, aad, plaintext []byte) (blob.Ref, error) {
	if v.blobs == nil {
		return blob.Ref{}, errors.New("vault: no blob store configured (WithBlobs)")
	}
	var ct []byte
	err := v.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		ct, err = v.Seal(ctx, tx, s, aad, plaintext)
		return err
	})
	if err != nil {
		return blob.Ref{}, err
	}
	r, err := v.blobs.Put(ctx, ct)
	if err != nil {
		return blob.Ref{}, fmt.Errorf("vault: store blob: %w", err)
	}
	return r, nil
}

// OpenBlob reads blob r (verifying its hash) and opens it for subject s with
// aad. Errors are those of Open, or of the blob store (blob.ErrNotFound,
// blob.ErrCorrupt).
func (v *Vault) OpenBlob(ctx context.Context, q Querier, s SubjectRef, aad []byte, r blob.Ref) ([]byte, error) {
	if v.blobs == nil {
		return nil, errors.New("vault: no blob store configured (WithBlobs)")
	}
	ct, err := v.blobs.Get(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("vault: read blob: %w", err)
	}
	return v.Open(ctx, q, s, aad, ct)
}
