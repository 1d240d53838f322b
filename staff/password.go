package staff

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are argon2id cost parameters.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
	SaltLen   int
	KeyLen    int
}

// DefaultArgon2 is RFC 9106 §4's second recommended option: argon2id,
// t=3 passes, m=64 MiB, p=4 lanes, 128-bit salt, 256-bit tag.
var DefaultArgon2 = Argon2Params{MemoryKiB: 64 << 10, Time: 3, Threads: 4, SaltLen: 16, KeyLen: 32}

// Password and hash limits.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
	maxPHCLen      = 512
	maxMemoryKiB   = 1 << 20 // 1 GiB
	maxTime        = 16
)

var phcB64 = base64.RawStdEncoding.Strict()

// CheckPassword enforces the password policy: 12 to 1024 bytes of UTF-8
// without control characters.
func CheckPassword(pw []byte) error {
	if len(pw) < MinPasswordLen || len(pw) > MaxPasswordLen || !utf8.Valid(pw) {
		return fmt.Errorf("%w: a password is %d to %d bytes of UTF-8", ErrWeakPassword, MinPasswordLen, MaxPasswordLen)
	}
	for _, r := range string(pw) {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: a password may not contain control characters", ErrWeakPassword)
		}
	}
	return nil
}

// HashPassword returns the PHC string of pw under p:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash> (unpadded
// standard base64, as the reference implementation writes it).
func HashPassword(pw []byte, p Argon2Params) (string, error) {
	if err := p.validate(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey(pw, salt, p.Time, p.MemoryKiB, p.Threads, uint32(p.KeyLen))
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		phcB64.EncodeToString(salt), phcB64.EncodeToString(key)), nil
}

func (p Argon2Params) validate() error {
	switch {
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB:
		return fmt.Errorf("%w: memory %d KiB", ErrBadHash, p.MemoryKiB)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("%w: time %d", ErrBadHash, p.Time)
	case p.Threads < 1:
		return fmt.Errorf("%w: threads %d", ErrBadHash, p.Threads)
	case p.SaltLen < 8 || p.SaltLen > 64:
		return fmt.Errorf("%w: salt length %d", ErrBadHash, p.SaltLen)
	case p.KeyLen < 16 || p.KeyLen > 64:
		return fmt.Errorf("%w: key length %d", ErrBadHash, p.KeyLen)
	}
	return nil
}

// parsePHC parses an argon2id PHC string strictly (the exact form
// HashPassword writes), refusing parameters outside the limits so a stored
// hash cannot make verification arbitrarily expensive.
func parsePHC(s string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	bad := func(why string) (Argon2Params, []byte, []byte, error) {
		return p, nil, nil, fmt.Errorf("%w: %s", ErrBadHash, why)
	}
	if len(s) > maxPHCLen {
		return bad("too long")
	}
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" || f[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("not an argon2id v=19 PHC string")
	}
	var m, t, th uint64
	params := strings.Split(f[3], ",")
	if len(params) != 3 {
		return bad("want m,t,p")
	}
	for i, kv := range []struct {
		name string
		dst  *uint64
		max  uint64
	}{{"m", &m, maxMemoryKiB}, {"t", &t, maxTime}, {"p", &th, 255}} {
		v, ok := strings.CutPrefix(params[i], kv.name+"=")
		if !ok || v == "" || (len(v) > 1 && v[0] == '0') {
			return bad("want m,t,p")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n > kv.max {
			return bad("parameter out of range")
		}
		*kv.dst = n
	}
	salt, err1 := phcB64.DecodeString(f[4])
	key, err2 := phcB64.DecodeString(f[5])
	if err1 != nil || err2 != nil {
		return bad("salt or hash is not unpadded base64")
	}
	p = Argon2Params{MemoryKiB: uint32(m), Time: uint32(t), Threads: uint8(th), SaltLen: len(salt), KeyLen: len(key)}
	if err := p.validate(); err != nil {
		return p, nil, nil, err
	}
	return p, salt, key, nil
}

// VerifyPassword reports whether pw matches the PHC string, comparing in
// constant time. A malformed hash is ErrBadHash; a mismatch is
// ErrInvalidCredentials.
func VerifyPassword(pw []byte, phc string) error {
	p, salt, key, err := parsePHC(phc)
	if err != nil {
		return err
	}
	got := argon2.IDKey(pw, salt, p.Time, p.MemoryKiB, p.Threads, uint32(p.KeyLen))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return ErrInvalidCredentials
	}
	return nil
}
