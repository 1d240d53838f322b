package staff

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The reference implementation (P-H-C/phc-winner-argon2):
// echo -n password | argon2 somesalt -id -t 2 -m 16 -p 4 -l 32 -e
const phcKAT = "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo"

var fastArgon2 = Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestVerifyPasswordKnownAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB argon2id known answer skipped under -short")
	}
	if err := VerifyPassword([]byte("password"), phcKAT); err != nil {
		t.Errorf("VerifyPassword(password, reference PHC) = %v, want nil", err)
	}
	if err := VerifyPassword([]byte("passwore"), phcKAT); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("VerifyPassword(wrong, reference PHC) = %v, want ErrInvalidCredentials", err)
	}
}

func TestHashPasswordRoundTrip(t *testing.T) {
	pw := []byte("correct horse battery staple")
	h, err := HashPassword(pw, fastArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("HashPassword = %q, want the PHC prefix", h)
	}
	h2, _ := HashPassword(pw, fastArgon2)
	if h == h2 {
		t.Errorf("two hashes of one password are equal: salts are not random")
	}
	if err := VerifyPassword(pw, h); err != nil {
		t.Errorf("VerifyPassword(own hash) = %v", err)
	}
	if err := VerifyPassword([]byte("correct horse battery stapler"), h); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("VerifyPassword(other) = %v, want ErrInvalidCredentials", err)
	}
}

func TestParsePHCRefuses(t *testing.T) {
	for _, s := range []string{
		"",
		"$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo",
		"$argon2id$v=16$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo",
		"$argon2id$v=19$m=4194304,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo",
		"$argon2id$v=19$m=65536,t=99,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo",
		"$argon2id$v=19$m=65536,t=2,p=0$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo",
		"$argon2id$v=19$t=2,m=65536,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo",
		"$argon2id$v=19$m=065536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo",
		"$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ=$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo",
		"$argon2id$v=19$m=65536,t=2,p=4$c29t$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo",
		"$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK",
		"$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo$",
		strings.Repeat("$", 600),
	} {
		if _, _, _, err := parsePHC(s); !errors.Is(err, ErrBadHash) {
			t.Errorf("parsePHC(%.40q) = %v, want ErrBadHash", s, err)
		}
	}
	if _, _, _, err := parsePHC(phcKAT); err != nil {
		t.Errorf("parsePHC(reference) = %v", err)
	}
}

func TestCheckPassword(t *testing.T) {
	for pw, want := range map[string]error{
		"short":                      ErrWeakPassword,
		"twelve chars":               nil,
		"パスワードは十分に長い":                nil,
		"with\x00nul and length":     ErrWeakPassword,
		"bad utf8 \xff long enough":  ErrWeakPassword,
		strings.Repeat("a", 1025):    ErrWeakPassword,
		"'; DROP TABLE staff; -- xx": nil,
	} {
		if err := CheckPassword([]byte(pw)); !errors.Is(err, want) {
			t.Errorf("CheckPassword(%.20q) = %v, want %v", pw, err, want)
		}
	}
}

func FuzzParsePHC(f *testing.F) {
	f.Add(phcKAT)
	f.Add("$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := parsePHC(s)
		if err != nil {
			return
		}
		if p.MemoryKiB > maxMemoryKiB || p.Time > maxTime || len(salt) < 8 || len(key) < 16 {
			t.Fatalf("parsePHC(%q) accepted out-of-bounds %+v", s, p)
		}
	})
}

// RFC 4226 Appendix D.
func TestHOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := hotp(secret, uint64(i), 6); got != w {
			t.Errorf("hotp(count %d) = %s, want %s", i, got, w)
		}
	}
}

// RFC 6238 Appendix B, SHA-1 rows (8 digits).
func TestTOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	} {
		if got := hotp(secret, uint64(totpStep(time.Unix(tc.unix, 0))), 8); got != tc.want {
			t.Errorf("TOTP(%d) = %s, want %s", tc.unix, got, tc.want)
		}
	}
}

func TestVerifyTOTP(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0)
	step := totpStep(now)
	code := hotp(secret, uint64(step), 6)
	for _, tc := range []struct {
		name     string
		code     string
		lastStep int64
		wantOK   bool
	}{
		{"current", code, 0, true},
		{"previous step", hotp(secret, uint64(step-1), 6), 0, true},
		{"next step", hotp(secret, uint64(step+1), 6), 0, true},
		{"two steps old", hotp(secret, uint64(step-2), 6), 0, false},
		{"replay of last step", code, step, false},
		{"older than last step", hotp(secret, uint64(step-1), 6), step, false},
		{"non digits", "12a456", 0, false},
		{"too long", code + "0", 0, false},
		{"SQL", "' OR 1", 0, false},
	} {
		_, ok := verifyTOTP(secret, tc.code, now, tc.lastStep)
		if ok != tc.wantOK {
			t.Errorf("verifyTOTP(%s) = %v, want %v", tc.name, ok, tc.wantOK)
		}
	}
}

func FuzzParseRoleGrant(f *testing.F) {
	f.Add([]byte(`{"staff_id":"st_x","role":"admin"}`))
	f.Add([]byte(`{"staff_id":"st_x","role":"god"}`))
	f.Add([]byte(`{"staff_id":"","role":"admin"} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := parseRoleGrant(b)
		if err != nil {
			return
		}
		if _, err := ParseRole(string(g.Role)); err != nil || g.StaffID == "" || len(g.StaffID) > 64 {
			t.Fatalf("parseRoleGrant(%q) accepted %+v", b, g)
		}
	})
}
