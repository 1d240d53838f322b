package vault

import (
	"context"
	"log/slog"
	"strconv"
)

// WrappedKey is a data key encrypted by a keyring under one KEK version. Data
// is opaque to the vault (for a transit KMS it is the "vault:vN:..." text).
type WrappedKey struct {
	KEKVersion int
	Data       []byte
}

// LogValue shows the KEK version only.
func (w WrappedKey) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("kek_version", w.KEKVersion), slog.Int("bytes", len(w.Data)))
}

// Keyring holds the key-encryption keys. Semantics the vault relies on:
//   - Wrap encrypts plaintext (at most 128 bytes) under the current KEK
//     version with an authenticated cipher and reports that version.
//   - Unwrap decrypts a key wrapped under any version that is not retired;
//     a retired or unknown version or a forged Data is an error.
//   - Rewrap re-encrypts w under the current version; a transit KMS does so
//     without returning the plaintext.
//
// Implementations: *KeyFile (local key file) and *Transit (OpenBao/Vault
// transit API). They must be safe for concurrent use.
type Keyring interface {
	Wrap(ctx context.Context, plaintext []byte) (WrappedKey, error)
	Unwrap(ctx context.Context, w WrappedKey) ([]byte, error)
	Rewrap(ctx context.Context, w WrappedKey) (WrappedKey, error)
}

// KeyAdmin is the administrative side of a keyring, needed for rotation,
// status and retirement. Both implementations provide it.
type KeyAdmin interface {
	// Rotate creates a new KEK version, used for every later Wrap, and
	// returns it. Older versions still unwrap.
	Rotate(ctx context.Context) (int, error)
	// KEKStatus reports the current version and the versions that unwrap.
	KEKStatus(ctx context.Context) (KEKStatus, error)
	// Retire makes every version below minVersion unusable for Unwrap.
	// minVersion must not exceed the current version.
	Retire(ctx context.Context, minVersion int) error
}

// KEKStatus describes a keyring's KEK versions.
type KEKStatus struct {
	Name       string // key name (file path base or transit key name)
	Current    int    // version used by Wrap
	MinDecrypt int    // lowest version Unwrap accepts
	Versions   []int  // versions that still unwrap, ascending
}

func (s KEKStatus) String() string {
	return s.Name + " v" + strconv.Itoa(s.Current)
}
