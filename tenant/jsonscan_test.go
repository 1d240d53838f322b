package tenant

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"strings"
	"testing"
	"unicode/utf8"
)

// decodeObjectReference is the encoding/json token-API reader that
// ScanObject replaced; the fuzzer holds the two to the same answers.
func decodeObjectReference(b []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("not valid UTF-8")
	}
	if err := checkDepth(b, maxJSONDepth); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errors.New("malformed JSON")
		}
		k, ok := tok.(string)
		if !ok {
			return nil, errors.New("malformed JSON")
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("duplicate member %q", k)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errors.New("malformed JSON")
		}
		out[k] = raw
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errors.New("malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON object")
	}
	return out, nil
}

var scanCases = []struct {
	in string
	ok bool
}{
	{`{}`, true},
	{` { } `, true},
	{`{"a":1}`, true},
	{`{"a" : "x" , "b":[1,{"c":null}] ,"d":{"e":"}"}}`, true},
	{`{"\u0061":1,"b":"\"q\\"}`, true},
	{`{"jti":"j","htm":"GET","htu":"https://as.example/x","iat":1700000000}`, true},
	{`{"a":1,"a":2}`, false},
	{`{"a":1,"\u0061":2}`, false},
	{`{"a":1}x`, false},
	{`{"a":1}{}`, false},
	{`{"a":1,}`, false},
	{`{"a"}`, false},
	{`{"a":}`, false},
	{`{a:1}`, false},
	{`{"a":01}`, false},
	{`{"a":tru}`, false},
	{`{"a":"\x"}`, false},
	{"{\"a\":\"\x01\"}", false},
	{"{\"a\":\"\xff\"}", false},
	{`{"a":[1,]}`, false},
	{`{"a":"unterminated}`, false},
	{`["a"]`, false},
	{`null`, false},
	{``, false},
	{`{"a":` + strings.Repeat("[", 9) + strings.Repeat("]", 9) + `}`, false},
	{`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":0,"k11":1,"k12":2,"k13":3,"k14":4,"k15":5,"k16":6,"k17":7,"k3":3}`, false},
	{`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":0,"k11":1,"k12":2,"k13":3,"k14":4,"k15":5,"k16":6,"k17":7}`, true},
}

func TestScanObject(t *testing.T) {
	for _, c := range scanCases {
		got, err := decodeObject([]byte(c.in))
		if (err == nil) != c.ok {
			t.Errorf("decodeObject(%q) = %v, want ok=%v", c.in, err, c.ok)
			continue
		}
		want, werr := decodeObjectReference([]byte(c.in))
		if (werr == nil) != c.ok {
			t.Errorf("reference(%q) = %v, want ok=%v (the table is wrong)", c.in, werr, c.ok)
		}
		if err == nil && !maps.EqualFunc(got, want, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) {
			t.Errorf("decodeObject(%q) = %q, want %q", c.in, got, want)
		}
	}
}

func TestJSONString(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want string
		ok   bool
	}{
		{`"abc"`, "abc", true},
		{`""`, "", true},
		{`"a\"b"`, `a"b`, true},
		{`"\u00e9"`, "é", true},
		{`"é"`, "é", true},
		{`null`, "", false},
		{`1`, "", false},
		{`"a`, "", false},
		{"\"\xff\"", "", false},
		{"\"a\x01\"", "", false},
		{`"\q"`, "", false},
	} {
		got, ok := JSONString([]byte(c.raw))
		if got != c.want || ok != c.ok {
			t.Errorf("JSONString(%s) = %q, %v, want %q, %v", c.raw, got, ok, c.want, c.ok)
		}
	}
}

// FuzzScanObject: the hand-written reader accepts exactly what the
// encoding/json reader accepted, with the same members and raw values, and
// JSONString agrees with json.Unmarshal on every member value.
func FuzzScanObject(f *testing.F) {
	for _, c := range scanCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeObject(b)
		want, werr := decodeObjectReference(b)
		if (err == nil) != (werr == nil) {
			t.Fatalf("decodeObject(%q) = %v, reference %v", b, err, werr)
		}
		if err != nil {
			return
		}
		if !maps.EqualFunc(got, want, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) {
			t.Fatalf("decodeObject(%q) = %q, reference %q", b, got, want)
		}
		for _, raw := range got {
			s, ok := JSONString(raw)
			var ref string
			rerr := json.Unmarshal(raw, &ref)
			isStr := len(raw) > 0 && raw[0] == '"'
			if ok != (isStr && rerr == nil) || (ok && s != ref) {
				t.Fatalf("JSONString(%s) = %q, %v; json.Unmarshal = %q, %v", raw, s, ok, ref, rerr)
			}
		}
	})
}

// TestES256DER: the hand-built DER verifies exactly when the big.Int path
// does, for real signatures (whose r and s often have a leading zero byte
// or a set top bit) and for tampered ones.
func TestES256DER(t *testing.T) {
	k := newKey(t, AlgES256, "k")
	pub := k.priv.(*ecdsa.PrivateKey).Public().(*ecdsa.PublicKey)
	for i := range 300 {
		d := sha256.Sum256([]byte(fmt.Sprint("message ", i)))
		r, s, err := ecdsa.Sign(rand.Reader, k.priv.(*ecdsa.PrivateKey), d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		if i%3 == 1 {
			sig[i%64] ^= 1 << (i % 8)
		}
		if i%50 == 2 {
			clear(sig[:32]) // r = 0
		}
		want := ecdsa.Verify(pub, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
		der := es256DER(nil, sig)
		if got := ecdsa.VerifyASN1(pub, d[:], der); got != want {
			t.Fatalf("VerifyASN1(es256DER(%x)) = %v, big.Int path %v", sig, got, want)
		}
		if len(der) > 72 {
			t.Fatalf("es256DER is %d bytes", len(der))
		}
	}
}
