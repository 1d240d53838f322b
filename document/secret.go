package document

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

const redacted = "[redacted]"

// Secret is a personal-data string (a name, a document number, an address).
// It prints, logs and JSON-encodes as "[redacted]"; Reveal returns the value.
type Secret string

// Reveal returns the value in clear.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer; it never returns the value.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer for %#v.
func (s Secret) GoString() string { return redacted }

// Format implements fmt.Formatter so that no verb (%x, %d, %q…) prints the value.
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, redacted) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON encodes "[redacted]".
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// MarshalText encodes "[redacted]" (used by map keys and text encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
