package hsm

import (
	"fmt"
	"os"
	"strings"

	"github.com/madoguchi/madoguchi/internal/keyfile"
)

// maxPIN caps a PIN (PKCS#11 tokens take a few dozen bytes at most).
const maxPIN = 256

// readPIN reads the PIN u's pin-source names: a file of mode 0600 or
// stricter (one line; a final newline is dropped) or an environment
// variable. Its errors name the source, never a byte of the PIN.
func readPIN(u URI) (string, error) {
	var pin string
	switch {
	case u.PINEnv != "":
		v, ok := os.LookupEnv(u.PINEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("%w: pin-source env:%s is not set", ErrPIN, u.PINEnv)
		}
		pin = v
	case u.PINFile != "":
		b, err := keyfile.Read(u.PINFile, maxPIN+2)
		if err != nil {
			return "", fmt.Errorf("%w: pin-source: %w", ErrPIN, err)
		}
		pin = string(b)
		clear(b)
		pin = strings.TrimSuffix(strings.TrimSuffix(pin, "\n"), "\r")
	default:
		return "", fmt.Errorf("%w: no pin-source", ErrPIN)
	}
	if pin == "" || len(pin) > maxPIN || strings.ContainsAny(pin, "\x00\r\n") {
		return "", fmt.Errorf("%w: the PIN from the pin-source must be one line of 1-%d bytes", ErrPIN, maxPIN)
	}
	return pin, nil
}
