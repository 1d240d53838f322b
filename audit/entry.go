package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

// Entry is one audit record: who did what to which object, when, under which
// request, with what outcome. It never carries personal data: objects are
// named by opaque ids, and Details holds only non-personal facts (a method,
// a reason code, a count). Shredding a data subject therefore never touches
// the log.
type Entry struct {
	// Time is when the action happened. Append stores it at microsecond
	// precision (UTC); a zero Time is replaced by the Log's clock.
	Time time.Time
	// ActorKind is "client", "staff", "customer" or "system".
	ActorKind string
	// ActorID is the client or staff id ("" allowed only for "system").
	ActorID string
	// TenantID is the tenant the action concerns ("" for installation-wide actions).
	TenantID string
	// Action names what was done, e.g. "tenant.create", "session.read".
	Action string
	// Object is the opaque id of the object acted on ("" if none).
	Object string
	// RequestID correlates the entry with request logs ("" if none).
	RequestID string
	// Outcome is "ok", "denied" or "failed".
	Outcome string
	// Details holds extra non-personal facts; never personal data.
	Details map[string]string
}

// Actor kinds and outcomes accepted in an Entry.
const (
	ActorClient = "client"
	ActorStaff  = "staff"
	ActorSystem = "system"
	// ActorCustomer is a tenant's verified customer acting for themself
	// (granting or revoking a consent); ActorID is a pseudonym, never a
	// name or a reference that identifies the person outside the tenant.
	ActorCustomer = "customer"

	OutcomeOK     = "ok"
	OutcomeDenied = "denied"
	OutcomeFailed = "failed"
)

// Size limits of an Entry. An entry over a limit is refused with ErrInvalidEntry.
const (
	MaxIDLen             = 128 // ActorID, TenantID, RequestID
	MaxObjectLen         = 256 // Object
	MaxActionLen         = 64  // Action
	MaxDetails           = 32  // number of Details
	MaxDetailKeyLen      = 64  // a Details key
	MaxDetailValLen      = 512 // a Details value
	MaxLeafLen           = 1 << 15
	leafVersion     byte = 1
)

// ErrInvalidEntry reports an entry that breaks a rule above, or leaf bytes
// that are not the canonical encoding of a valid entry.
var ErrInvalidEntry = errors.New("audit: invalid entry")

// MarshalLeaf returns the canonical leaf encoding of e, the bytes whose
// RFC 6962 leaf hash (SHA-256 of 0x00 || leaf) enters the Merkle tree.
//
// Version 1 encoding (all integers big-endian):
//
//	leaf    = version:u8(=1) time:i64(Unix microseconds, UTC)
//	          str(actor_kind) str(actor_id) str(tenant_id) str(action)
//	          str(object) str(request_id) str(outcome)
//	          count:u8 { str(key) str(value) }*count
//	str     = length:u16 UTF-8 bytes
//
// Details keys appear in strictly ascending byte order, so the encoding of an
// entry is unique: ParseLeaf accepts exactly the bytes MarshalLeaf produces.
// e.Time must be set (Append fills a zero Time before encoding).
func MarshalLeaf(e Entry) ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 128)
	b = append(b, leafVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixMicro()))
	for _, s := range []string{e.ActorKind, e.ActorID, e.TenantID, e.Action, e.Object, e.RequestID, e.Outcome} {
		b = appendStr(b, s)
	}
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, byte(len(keys)))
	for _, k := range keys {
		b = appendStr(b, k)
		b = appendStr(b, e.Details[k])
	}
	if len(b) > MaxLeafLen {
		return nil, fmt.Errorf("%w: encoding is %d bytes, limit %d", ErrInvalidEntry, len(b), MaxLeafLen)
	}
	return b, nil
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// ParseLeaf decodes a canonical leaf encoding. It refuses anything
// MarshalLeaf would not produce (unknown version, trailing bytes, unsorted or
// duplicate keys, invalid fields), with ErrInvalidEntry.
func ParseLeaf(b []byte) (Entry, error) {
	var e Entry
	if len(b) > MaxLeafLen {
		return e, fmt.Errorf("%w: leaf is %d bytes, limit %d", ErrInvalidEntry, len(b), MaxLeafLen)
	}
	if len(b) < 9 || b[0] != leafVersion {
		return e, fmt.Errorf("%w: not a version %d leaf", ErrInvalidEntry, leafVersion)
	}
	us := int64(binary.BigEndian.Uint64(b[1:9]))
	e.Time = time.UnixMicro(us).UTC()
	r := leafReader{b: b[9:]}
	for _, p := range []*string{&e.ActorKind, &e.ActorID, &e.TenantID, &e.Action, &e.Object, &e.RequestID, &e.Outcome} {
		*p = r.str()
	}
	n := int(r.byte())
	prev := ""
	for i := range n {
		k, v := r.str(), r.str()
		if r.err != nil {
			break
		}
		if i > 0 && k <= prev {
			return Entry{}, fmt.Errorf("%w: details keys not strictly ascending", ErrInvalidEntry)
		}
		prev = k
		if e.Details == nil {
			e.Details = make(map[string]string, n)
		}
		e.Details[k] = v
	}
	if r.err != nil {
		return Entry{}, r.err
	}
	if len(r.b) != 0 {
		return Entry{}, fmt.Errorf("%w: %d trailing bytes", ErrInvalidEntry, len(r.b))
	}
	if err := e.validate(); err != nil {
		return Entry{}, err
	}
	return e, nil
}

type leafReader struct {
	b   []byte
	err error
}

func (r *leafReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.err = fmt.Errorf("%w: truncated", ErrInvalidEntry)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *leafReader) str() string {
	if r.err != nil {
		return ""
	}
	if len(r.b) < 2 {
		r.err = fmt.Errorf("%w: truncated", ErrInvalidEntry)
		return ""
	}
	n := int(binary.BigEndian.Uint16(r.b))
	if len(r.b)-2 < n {
		r.err = fmt.Errorf("%w: truncated", ErrInvalidEntry)
		return ""
	}
	s := string(r.b[2 : 2+n])
	r.b = r.b[2+n:]
	return s
}

// validate checks e against the documented rules. Messages name the field,
// never its value (which might be something a caller should not have put there).
func (e Entry) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidEntry}, a...)...)
	}
	if e.Time.IsZero() {
		return bad("time is zero")
	}
	if y := e.Time.UTC().Year(); y < 2000 || y > 9999 {
		return bad("time year %d out of range", y)
	}
	switch e.ActorKind {
	case ActorClient, ActorStaff, ActorCustomer:
		if e.ActorID == "" {
			return bad("actor_id is empty for actor kind %q", e.ActorKind)
		}
	case ActorSystem:
	default:
		return bad("actor_kind must be client, staff, customer or system")
	}
	switch e.Outcome {
	case OutcomeOK, OutcomeDenied, OutcomeFailed:
	default:
		return bad("outcome must be ok, denied or failed")
	}
	if !isName(e.Action, MaxActionLen) {
		return bad("action must be 1-%d characters of a-z 0-9 . _ - starting with a letter", MaxActionLen)
	}
	for _, f := range []struct {
		name string
		v    string
		max  int
	}{
		{"actor_id", e.ActorID, MaxIDLen},
		{"tenant_id", e.TenantID, MaxIDLen},
		{"object", e.Object, MaxObjectLen},
		{"request_id", e.RequestID, MaxIDLen},
	} {
		if err := checkText(f.v, f.max); err != nil {
			return bad("%s: %v", f.name, err)
		}
	}
	if len(e.Details) > MaxDetails {
		return bad("%d details, limit %d", len(e.Details), MaxDetails)
	}
	for k, v := range e.Details {
		if !isName(k, MaxDetailKeyLen) {
			return bad("a details key is not 1-%d characters of a-z 0-9 . _ - starting with a letter", MaxDetailKeyLen)
		}
		if err := checkText(v, MaxDetailValLen); err != nil {
			return bad("details[%s]: %v", k, err)
		}
	}
	return nil
}

// isName reports whether s is 1..max bytes of [a-z0-9._-] starting with a-z.
func isName(s string, max int) bool {
	if len(s) == 0 || len(s) > max || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// checkText accepts valid UTF-8 of at most max bytes without control characters.
func checkText(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%d bytes, limit %d", len(s), max)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return errors.New("contains a control character")
		}
	}
	return nil
}
