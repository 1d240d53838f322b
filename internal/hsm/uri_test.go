package hsm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseURI(t *testing.T) {
	const q = "?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/madoguchi/pin"
	base := URI{Token: "bank", Object: "issuer", ModulePath: "/usr/lib/softhsm/libsofthsm2.so", PINFile: "/etc/madoguchi/pin"}
	with := func(f func(*URI)) URI { u := base; f(&u); return u }
	ok := []struct {
		in   string
		want URI
	}{
		{"pkcs11:token=bank;object=issuer" + q, base},
		{"PKCS11:token=bank;object=issuer" + q, base},
		{"pkcs11:object=issuer;token=bank;type=private" + q, base},
		{"pkcs11:token=my%20bank;object=a%3Bb" + q, with(func(u *URI) { u.Token, u.Object = "my bank", "a;b" })},
		{"pkcs11:token=bank;id=%01%FF" + q, with(func(u *URI) { u.Object, u.ID = "", []byte{1, 0xff} })},
		{"pkcs11:token=bank;serial=1a2b;object=issuer;id=%00" + q, with(func(u *URI) { u.Serial, u.ID = "1a2b", []byte{0} })},
		{"pkcs11:token=bank;object=issuer?pin-source=/etc/madoguchi/pin&module-path=/usr/lib/softhsm/libsofthsm2.so", base},
		{"pkcs11:token=bank;object=issuer?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:///etc/madoguchi/pin", base},
		{"pkcs11:token=bank;object=issuer?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:MADOGUCHI_HSM_PIN",
			with(func(u *URI) { u.PINFile, u.PINEnv = "", "MADOGUCHI_HSM_PIN" })},
	}
	for _, tc := range ok {
		got, err := ParseURI(tc.in)
		if err != nil {
			t.Errorf("ParseURI(%q) = %v", tc.in, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("ParseURI(%q) (-want +got):\n%s", tc.in, d)
		}
		again, err := ParseURI(got.String())
		if err != nil || !cmp.Equal(again, got) {
			t.Errorf("ParseURI(%q.String() = %q) = %+v, %v; want %+v", tc.in, got.String(), again, err, got)
		}
	}
	bad := []struct{ in, want string }{
		{"", "not a pkcs11: URI"},
		{"/etc/key.pem", "not a pkcs11: URI"},
		{"pkcs11:", "no path attributes"},
		{"pkcs11:token=bank;object=issuer", "no query attributes"},
		{"pkcs11:token=bank" + q, "object= or id= is required"},
		{"pkcs11:object=issuer" + q, "token= is required"},
		{"pkcs11:token=bank;object=issuer?module-path=/m.so", "pin-source= is required"},
		{"pkcs11:token=bank;object=issuer?pin-source=env:P", "module-path= is required"},
		{"pkcs11:token=bank;object=issuer;object=other" + q, "given twice"},
		{"pkcs11:token=bank;object=issuer" + q + "&module-path=/x.so", "given twice"},
		{"pkcs11:token=bank;object=issuer" + q + "&pin-value=123456", "pin-value is refused"},
		{"pkcs11:token=bank;object=issuer;pin-value=123456" + q, "not supported"},
		{"pkcs11:token=bank;object=issuer;manufacturer=x" + q, "not supported"},
		{"pkcs11:token=bank;object=issuer" + q + "&module-name=softhsm2", "not supported"},
		{"pkcs11:token=bank;object=issuer;type=secret-key" + q, "only private keys"},
		{"pkcs11:token=bank;object=issuer" + q + "#frag", "fragment"},
		{"pkcs11:token=bank;object=" + q, "empty value"},
		{"pkcs11:token=bank;;object=issuer" + q, "not name=value"},
		{"pkcs11:token=bank;object=iss/uer" + q, "must be percent-encoded"},
		{"pkcs11:token=bank;object=iss uer" + q, "must be percent-encoded"},
		{"pkcs11:token=bank;object=%4" + q, "bad percent-encoding"},
		{"pkcs11:token=bank;object=%zz" + q, "bad percent-encoding"},
		{"pkcs11:token=bank;object=a%0Ab" + q, "not printable"},
		{"pkcs11:token=bank;object=%FF" + q, "not printable"},
		{"pkcs11:token=" + strings.Repeat("a", 33) + ";object=issuer" + q, "want 1-32 bytes"},
		{"pkcs11:token=bank;id=" + strings.Repeat("%00", 65) + q, "want 1-64 bytes"},
		{"pkcs11:token=bank;object=issuer?module-path=lib.so&pin-source=env:P", "clean absolute path"},
		{"pkcs11:token=bank;object=issuer?module-path=/usr/../lib.so&pin-source=env:P", "clean absolute path"},
		{"pkcs11:token=bank;object=issuer?module-path=/m.so&pin-source=pin.txt", "clean absolute path"},
		{"pkcs11:token=bank;object=issuer?module-path=/m.so&pin-source=file://host/pin", "with a host"},
		{"pkcs11:token=bank;object=issuer?module-path=/m.so&pin-source=env:", "variable name"},
		{"pkcs11:token=bank;object=issuer?module-path=/m.so&pin-source=env:A-B", "variable name"},
		{"pkcs11:token=bank;object=issuer?module-path=/m.so&pin-source=%7C/bin/pin", "clean absolute path"},
		{"pkcs11:token=bank;object=" + strings.Repeat("a", MaxURILen) + q, "longer than"},
	}
	for _, tc := range bad {
		_, err := ParseURI(tc.in)
		if !errors.Is(err, ErrURI) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseURI(%.60q) = %v, want ErrURI containing %q", tc.in, err, tc.want)
		}
	}
}

// The PIN never appears in an error, even when the URI carries one.
func TestParseURINeverEchoesPIN(t *testing.T) {
	for _, in := range []string{
		"pkcs11:token=bank;object=issuer?module-path=/m.so&pin-value=S3CRETPIN",
		"pkcs11:token=bank;object=issuer?pin-value=S3CRETPIN",
		"pkcs11:token=bank;object=issuer?pin-value=S3CRETPIN&pin-value=S3CRETPIN",
	} {
		_, err := ParseURI(in)
		if err == nil || strings.Contains(err.Error(), "S3CRET") {
			t.Errorf("ParseURI(...pin-value...) = %v, want an error without the PIN", err)
		}
	}
}

func TestReadPIN(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("HSMTEST_PIN", "4321")
	t.Setenv("HSMTEST_EMPTY", "")
	for _, tc := range []struct {
		name string
		u    URI
		want string // PIN, or "" for ErrPIN
	}{
		{"file", URI{PINFile: write("a", "123456\n", 0o600)}, "123456"},
		{"file crlf", URI{PINFile: write("b", "123456\r\n", 0o400)}, "123456"},
		{"file no newline", URI{PINFile: write("c", "123456", 0o600)}, "123456"},
		{"env", URI{PINEnv: "HSMTEST_PIN"}, "4321"},
		{"file world-readable", URI{PINFile: write("d", "123456\n", 0o644)}, ""},
		{"file empty", URI{PINFile: write("e", "\n", 0o600)}, ""},
		{"file two lines", URI{PINFile: write("f", "123456\n789\n", 0o600)}, ""},
		{"file too long", URI{PINFile: write("g", strings.Repeat("1", maxPIN+3), 0o600)}, ""},
		{"file missing", URI{PINFile: filepath.Join(dir, "none")}, ""},
		{"env unset", URI{PINEnv: "HSMTEST_UNSET_VARIABLE"}, ""},
		{"env empty", URI{PINEnv: "HSMTEST_EMPTY"}, ""},
	} {
		pin, err := readPIN(tc.u)
		if tc.want != "" {
			if err != nil || pin != tc.want {
				t.Errorf("%s: readPIN = %q, %v; want %q", tc.name, pin, err, tc.want)
			}
			continue
		}
		if !errors.Is(err, ErrPIN) || strings.Contains(err.Error(), "123456") {
			t.Errorf("%s: readPIN = %q, %v; want ErrPIN naming no PIN", tc.name, pin, err)
		}
	}
}

func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=bank;object=issuer?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/pin",
		"pkcs11:token=a%20b;id=%01%02;serial=12?pin-source=env:PIN&module-path=/m.so",
		"pkcs11:token=bank;object=issuer;type=private?module-path=/m.so&pin-source=file:///p",
		"pkcs11:token=;object=x?pin-value=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			if !errors.Is(err, ErrURI) {
				t.Fatalf("ParseURI(%q) = %v, not ErrURI", s, err)
			}
			return
		}
		c := u.String()
		again, err := ParseURI(c)
		if err != nil {
			t.Fatalf("ParseURI(String() = %q) = %v", c, err)
		}
		if !cmp.Equal(u, again) {
			t.Fatalf("ParseURI(String()) = %+v, want %+v", again, u)
		}
		if again.String() != c {
			t.Fatalf("String() not canonical: %q then %q", c, again.String())
		}
	})
}
