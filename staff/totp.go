package staff

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"time"
)

// TOTP parameters (RFC 6238), fixed for authenticator-app compatibility:
// HMAC-SHA-1, 6 digits, 30-second steps, a 160-bit secret. A code is accepted
// for the current step and one step either side; a step at or before the last
// accepted one is refused (no replay).
const (
	TOTPDigits    = 6
	TOTPPeriod    = 30 * time.Second
	TOTPSecretLen = 20
	totpWindow    = 1
)

// hotp is RFC 4226 §5.3 with SHA-1 and the given number of digits.
func hotp(secret []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	code := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, code%mod)
}

// totpStep is the RFC 6238 time step T for t (T0 = 0).
func totpStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// verifyTOTP checks code against the steps around now and returns the step
// it matched. Every candidate is compared, in constant time, whatever
// matches first. A step not after lastStep is refused.
func verifyTOTP(secret []byte, code string, now time.Time, lastStep int64) (int64, bool) {
	if len(code) != TOTPDigits {
		return 0, false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return 0, false
		}
	}
	cur := totpStep(now)
	matched := int64(-1)
	for s := cur - totpWindow; s <= cur+totpWindow; s++ {
		if s < 0 {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(hotp(secret, uint64(s), TOTPDigits)), []byte(code)) == 1 && matched < 0 {
			matched = s
		}
	}
	if matched < 0 || matched <= lastStep {
		return 0, false
	}
	return matched, true
}

// provisioningURI is the otpauth:// URI authenticator apps import
// (Key Uri Format): otpauth://totp/<issuer>:<account>?secret=...&issuer=...
func provisioningURI(issuer, account string, secret []byte) string {
	v := url.Values{}
	v.Set("secret", base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret))
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(TOTPDigits))
	v.Set("period", fmt.Sprint(int(TOTPPeriod/time.Second)))
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + account, RawQuery: v.Encode()}
	return u.String()
}
