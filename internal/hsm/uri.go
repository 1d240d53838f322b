package hsm

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// MaxURILen caps a key URI (a flag, an environment variable or a line of
// a data folder's file).
const MaxURILen = 2048

// Caps on the parts of a URI: a token label is 32 bytes in CK_TOKEN_INFO,
// a serial 16; object labels and ids are this package's own caps.
const (
	maxToken  = 32
	maxSerial = 16
	maxObject = 128
	maxID     = 64
	maxPath   = 1024
)

// URI is a PKCS#11 URI (RFC 7512) naming one private key in one token:
//
//	pkcs11:token=LABEL[;serial=SERIAL][;object=LABEL][;id=%01%02][;type=private]
//	      ?module-path=/abs/path/to/module.so&pin-source=file:/abs/pin-file
//
// Only these attributes are accepted, each at most once; anything else
// (another attribute, a pin-value, a fragment, an empty or over-long value,
// a character RFC 7512 does not allow unescaped) is ErrURI, because an
// attribute this package ignored could make it pick another key than the
// one the operator named. pin-source is a file (file:/abs/path or
// /abs/path; the file must be 0600, like every key file) or, as this
// package's extension, env:NAME (an environment variable). The PIN itself
// never appears in a URI, a flag or an error.
type URI struct {
	Token      string // CKA_LABEL of the token (CK_TOKEN_INFO.label)
	Serial     string // CK_TOKEN_INFO.serialNumber, to tell equal labels apart
	Object     string // the key's CKA_LABEL
	ID         []byte // the key's CKA_ID
	ModulePath string // the PKCS#11 module (shared library), absolute
	PINFile    string // pin-source file (absolute), or
	PINEnv     string // pin-source env:NAME
}

// IsURI reports whether s is meant as a PKCS#11 URI (rather than a file
// path): it starts with the scheme.
func IsURI(s string) bool {
	return len(s) >= len("pkcs11:") && strings.EqualFold(s[:len("pkcs11:")], "pkcs11:")
}

// ParseURI parses s strictly (see URI).
func ParseURI(s string) (URI, error) {
	var u URI
	if len(s) > MaxURILen {
		return u, fmt.Errorf("%w: longer than %d bytes", ErrURI, MaxURILen)
	}
	if !IsURI(s) {
		return u, fmt.Errorf("%w: not a pkcs11: URI", ErrURI)
	}
	rest := s[len("pkcs11:"):]
	if strings.ContainsRune(rest, '#') {
		return u, fmt.Errorf("%w: a fragment is not allowed", ErrURI)
	}
	path, query, _ := strings.Cut(rest, "?")
	seen := map[string]bool{}
	var typ string
	if path == "" {
		return u, fmt.Errorf("%w: no path attributes (want token= and object= or id=)", ErrURI)
	}
	for attr := range strings.SplitSeq(path, ";") {
		name, raw, ok := strings.Cut(attr, "=")
		if !ok || name == "" {
			return u, fmt.Errorf("%w: path attribute %q is not name=value", ErrURI, clip(attr))
		}
		if seen[name] {
			return u, fmt.Errorf("%w: attribute %s given twice", ErrURI, name)
		}
		seen[name] = true
		v, err := unescape(raw, pathChar)
		if err != nil {
			return u, fmt.Errorf("%w: %s: %v", ErrURI, name, err)
		}
		switch name {
		case "token":
			u.Token, err = text(v, maxToken)
		case "serial":
			u.Serial, err = text(v, maxSerial)
		case "object":
			u.Object, err = text(v, maxObject)
		case "id":
			if len(v) == 0 || len(v) > maxID {
				err = fmt.Errorf("want 1-%d bytes", maxID)
			}
			u.ID = v
		case "type":
			typ = string(v)
			if typ != "private" {
				err = fmt.Errorf("%q: only private keys are opened", clip(typ))
			}
		default:
			return u, fmt.Errorf("%w: path attribute %q is not supported (token, serial, object, id, type)", ErrURI, clip(name))
		}
		if err != nil {
			return u, fmt.Errorf("%w: %s: %v", ErrURI, name, err)
		}
	}
	if query == "" {
		return u, fmt.Errorf("%w: no query attributes (want module-path= and pin-source=)", ErrURI)
	}
	for attr := range strings.SplitSeq(query, "&") {
		name, raw, ok := strings.Cut(attr, "=")
		if !ok || name == "" {
			return u, fmt.Errorf("%w: query attribute %q is not name=value", ErrURI, clip(attr))
		}
		if name == "pin-value" {
			// Never echo it: the value is a PIN.
			return u, fmt.Errorf("%w: pin-value is refused (a PIN in a URI ends up in ps, shell history and logs); use pin-source=file:/path or env:NAME", ErrURI)
		}
		if seen[name] {
			return u, fmt.Errorf("%w: attribute %s given twice", ErrURI, name)
		}
		seen[name] = true
		v, err := unescape(raw, queryChar)
		if err != nil {
			return u, fmt.Errorf("%w: %s: %v", ErrURI, name, err)
		}
		switch name {
		case "module-path":
			u.ModulePath, err = absPath(v)
		case "pin-source":
			err = u.setPINSource(v)
		default:
			return u, fmt.Errorf("%w: query attribute %q is not supported (module-path, pin-source)", ErrURI, clip(name))
		}
		if err != nil {
			return u, fmt.Errorf("%w: %s: %v", ErrURI, name, err)
		}
	}
	switch {
	case u.Token == "":
		return u, fmt.Errorf("%w: token= is required", ErrURI)
	case u.Object == "" && u.ID == nil:
		return u, fmt.Errorf("%w: object= or id= is required", ErrURI)
	case u.ModulePath == "":
		return u, fmt.Errorf("%w: module-path= is required", ErrURI)
	case u.PINFile == "" && u.PINEnv == "":
		return u, fmt.Errorf("%w: pin-source= is required", ErrURI)
	}
	return u, nil
}

func (u *URI) setPINSource(v []byte) error {
	s, err := text(v, maxPath)
	if err != nil {
		return err
	}
	if name, ok := strings.CutPrefix(s, "env:"); ok {
		if name == "" || len(name) > 64 || strings.IndexFunc(name, func(r rune) bool {
			return !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
		}) >= 0 {
			return fmt.Errorf("env:NAME wants a variable name of letters, digits and _")
		}
		u.PINEnv = name
		return nil
	}
	if p, ok := strings.CutPrefix(s, "file://"); ok {
		// file:///abs (empty authority) only; a host is not a local file.
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("file:// with a host is not a local file")
		}
		s = p
	} else if p, ok := strings.CutPrefix(s, "file:"); ok {
		s = p
	}
	u.PINFile, err = absPath([]byte(s))
	return err
}

// String returns the URI in this package's canonical form (ParseURI of
// it gives u back).
func (u URI) String() string {
	var b strings.Builder
	b.WriteString("pkcs11:token=")
	b.WriteString(escape([]byte(u.Token), pathChar))
	if u.Serial != "" {
		b.WriteString(";serial=" + escape([]byte(u.Serial), pathChar))
	}
	if u.Object != "" {
		b.WriteString(";object=" + escape([]byte(u.Object), pathChar))
	}
	if u.ID != nil {
		b.WriteString(";id=" + escape(u.ID, func(byte) bool { return false }))
	}
	b.WriteString(";type=private?module-path=" + escape([]byte(u.ModulePath), queryChar))
	if u.PINEnv != "" {
		b.WriteString("&pin-source=env:" + u.PINEnv)
	} else {
		b.WriteString("&pin-source=" + escape([]byte("file:"+u.PINFile), queryChar))
	}
	return b.String()
}

// keyName names the key for errors and logs: token and object or id (no
// module path, no PIN source).
func (u URI) keyName() string {
	s := "token " + fmt.Sprintf("%q", u.Token)
	if u.Object != "" {
		s += " object " + fmt.Sprintf("%q", u.Object)
	}
	if u.ID != nil {
		s += fmt.Sprintf(" id %x", u.ID)
	}
	return s
}

// Character classes of RFC 7512 §2.3: unreserved and pk11-res-avail are
// allowed unescaped everywhere; "&" also in the path, "/", "?" and "|" in
// the query.
func unreservedOrAvail(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("-._~:[]@!$'()*+,=", c) >= 0
}

func pathChar(c byte) bool  { return unreservedOrAvail(c) || c == '&' }
func queryChar(c byte) bool { return unreservedOrAvail(c) || c == '/' || c == '?' || c == '|' }

func unescape(s string, allowed func(byte) bool) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("empty value")
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return nil, fmt.Errorf("bad percent-encoding")
			}
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		case allowed(c):
			out = append(out, c)
		default:
			return nil, fmt.Errorf("character %q must be percent-encoded", c)
		}
	}
	return out, nil
}

func escape(b []byte, allowed func(byte) bool) string {
	const hexDigits = "0123456789ABCDEF"
	var s strings.Builder
	for _, c := range b {
		if allowed(c) {
			s.WriteByte(c)
		} else {
			s.WriteByte('%')
			s.WriteByte(hexDigits[c>>4])
			s.WriteByte(hexDigits[c&15])
		}
	}
	return s.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// text checks a decoded label: UTF-8, no control characters, 1-max bytes.
func text(v []byte, max int) (string, error) {
	if len(v) == 0 || len(v) > max {
		return "", fmt.Errorf("want 1-%d bytes", max)
	}
	if !utf8.Valid(v) || bytes.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return "", fmt.Errorf("not printable UTF-8")
	}
	return string(v), nil
}

func absPath(v []byte) (string, error) {
	p, err := text(v, maxPath)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return "", fmt.Errorf("want a clean absolute path")
	}
	return p, nil
}

// clip shortens what an error quotes from the input.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
