package vault

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Ciphertext format, version 1 (all integers big-endian):
//
//	offset  size  field
//	0       3     magic "MDV"
//	3       1     format version, 0x01
//	4       4     DEK version (uint32, >= 1)
//	8       12    GCM nonce (random)
//	20      n+16  AES-256-GCM ciphertext and tag
//
// The 8-byte prefix (magic, format, DEK version) is authenticated: it is part
// of the GCM additional data, built by gcmAAD.
const (
	magic         = "MDV"
	formatV1      = 1
	prefixLen     = 8
	nonceLen      = 12
	tagLen        = 16
	headerLen     = prefixLen + nonceLen
	overhead      = headerLen + tagLen
	maxDEKVersion = 1<<31 - 1
)

// header is the parsed fixed part of a sealed record.
type header struct {
	dekVersion uint32
	nonce      []byte // aliases the input
}

// parseHeader validates the fixed header of ct and returns it with the
// ciphertext body (ciphertext and tag). It never panics on any input.
func parseHeader(ct []byte) (header, []byte, error) {
	if len(ct) < overhead {
		return header{}, nil, fmt.Errorf("%w: ciphertext is %d bytes, shorter than the %d-byte minimum", ErrFormat, len(ct), overhead)
	}
	if string(ct[:3]) != magic {
		return header{}, nil, fmt.Errorf("%w: not a vault ciphertext", ErrFormat)
	}
	if ct[3] != formatV1 {
		return header{}, nil, fmt.Errorf("%w: unknown format version %d", ErrFormat, ct[3])
	}
	v := binary.BigEndian.Uint32(ct[4:8])
	if v == 0 || v > maxDEKVersion {
		return header{}, nil, fmt.Errorf("%w: DEK version %d out of range", ErrFormat, v)
	}
	return header{dekVersion: v, nonce: ct[prefixLen:headerLen]}, ct[headerLen:], nil
}

// appendPrefix appends the authenticated 8-byte prefix for dekVersion.
func appendPrefix(b []byte, dekVersion uint32) []byte {
	b = append(b, magic...)
	b = append(b, formatV1)
	return binary.BigEndian.AppendUint32(b, dekVersion)
}

// gcmAAD builds the GCM additional data of a record:
//
//	"madoguchi/vault/record/v1" || prefix(8) || lp(tenant) || lp(subject) || lp(aad)
//
// where lp(x) is x's length as a uint32 followed by x. The subject reference
// is bound by the vault itself, so a record sealed for one subject never opens
// as another's even if a caller passes the same aad; the caller's aad names
// the record (see AAD).
func gcmAAD(prefix []byte, s SubjectRef, aad []byte) []byte {
	const label = "madoguchi/vault/record/v1"
	b := make([]byte, 0, len(label)+len(prefix)+12+len(s.Tenant)+len(s.Subject)+len(aad))
	b = append(b, label...)
	b = append(b, prefix...)
	b = appendLP(b, []byte(s.Tenant))
	b = appendLP(b, []byte(s.Subject))
	return appendLP(b, aad)
}

func appendLP(b, x []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
	return append(b, x...)
}

// AAD builds a record's associated data from its identifying parts, for
// example AAD("evidence", recordID) or AAD("session.name", sessionID). Each
// part is length-prefixed, so ("ab","c") and ("a","bc") differ. The tenant
// and subject are bound by the vault and need not be repeated.
func AAD(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = appendLP(b, []byte(p))
	}
	return b
}

// DEK binding. The keyring wraps "MDK1" || SHA-256(binding) || DEK, where
// binding = lp(tenant) || lp(subject) || uint32(dekVersion); Unwrap checks the
// digest, so a wrapped key copied onto another subject's row (or another DEK
// version) is refused. The binding travels inside the keyring's authenticated
// ciphertext, which lets a transit KMS rewrap it without seeing it.
const (
	dekMagic    = "MDK1"
	dekLen      = 32
	boundDEKLen = len(dekMagic) + 32 + dekLen
)

var errBinding = errors.New("vault: wrapped data key is bound to another subject or version")
