package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
)

// Probe proves a backend writable and readable: it puts a random 64-byte
// object, reads it back, compares and deletes it. The object is never
// referenced by the blobs table, so a probe interrupted before its delete
// leaves only an unreferenced object of random bytes.
func Probe(ctx context.Context, be Backend) error {
	data := make([]byte, 64)
	if _, err := rand.Read(data); err != nil {
		return err
	}
	r := RefOf(data)
	if err := be.Put(ctx, r, data); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	got, err := be.Get(ctx, r, int64(len(data)))
	if err != nil {
		return errors.Join(fmt.Errorf("read back: %w", err), be.Delete(ctx, r))
	}
	if !bytes.Equal(got, data) {
		return errors.Join(errors.New("read back: different bytes"), be.Delete(ctx, r))
	}
	if err := be.Delete(ctx, r); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}
