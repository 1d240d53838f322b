package devissuer

import (
	"fmt"
	"log/slog"
)

// LogValue implements slog.LogValuer: the issuers hold private keys, so
// only what they are is logged.
func (is *Issuers) LogValue() slog.Value {
	return slog.StringValue("development chip issuers (keys redacted)")
}

// String describes the issuers without their keys.
func (is *Issuers) String() string { return "development chip issuers (keys redacted)" }

// GoString keeps %#v from printing the keys.
func (is *Issuers) GoString() string { return is.String() }

// LogValue implements slog.LogValuer without the holder's personal data.
func (h Holder) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("photo_bytes", len(h.Photo)), slog.Bool("name", h.Name != ""))
}

// String describes the holder without personal data.
func (h Holder) String() string {
	return fmt.Sprintf("holder([redacted], photo %d bytes)", len(h.Photo))
}

// GoString keeps %#v from printing personal data.
func (h Holder) GoString() string { return h.String() }
