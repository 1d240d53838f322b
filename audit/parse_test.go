package audit

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A fixed test key, so signed notes below are stable seeds.
const (
	testSKey = "PRIVATE+KEY+test.madoguchi.invalid/audit+7548e15b+AUGKdygpr0W/b8LUCF/gJAM8ogSSDIep0k1NgFHJMjqm"
	testVKey = "test.madoguchi.invalid/audit+7548e15b+AVcv1S/SUXGP4JmxJNezWaayMxKF85yPgjVFkVW+zI5B"
	// Same name, another key.
	otherSKey = "PRIVATE+KEY+test.madoguchi.invalid/audit+e9ad0154+AWKPFZ437u9rKGOiwQ8jff2zpnj2Q5l9JKJD+O0+7dc7"
)

func testSigner(t testing.TB, skey string) *Signer {
	t.Helper()
	s, err := ParseSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMarshalLeafKnownAnswer(t *testing.T) {
	e := Entry{
		Time:      time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), // 0x0006475ef64cf346 µs
		ActorKind: "staff", ActorID: "s1", TenantID: "t", Action: "a.b", Object: "o",
		RequestID: "", Outcome: "ok",
		Details: map[string]string{"z": "1", "b": ""},
	}
	want := []byte{1, 0x00, 0x06, 0x47, 0x5e, 0xf6, 0x4c, 0xf3, 0x46,
		0, 5, 's', 't', 'a', 'f', 'f',
		0, 2, 's', '1',
		0, 1, 't',
		0, 3, 'a', '.', 'b',
		0, 1, 'o',
		0, 0,
		0, 2, 'o', 'k',
		2,
		0, 1, 'b', 0, 0,
		0, 1, 'z', 0, 1, '1',
	}
	got, err := MarshalLeaf(e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("MarshalLeaf = %x, want %x", got, want)
	}
	back, err := ParseLeaf(got)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, back); diff != "" {
		t.Errorf("ParseLeaf(MarshalLeaf(e)) mismatch (-want +got):\n%s", diff)
	}
}

func TestEntryValidation(t *testing.T) {
	ok := testEntry(1)
	tests := []struct {
		name string
		edit func(*Entry)
	}{
		{"zero time", func(e *Entry) { e.Time = time.Time{} }},
		{"year 1999", func(e *Entry) { e.Time = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"actor kind", func(e *Entry) { e.ActorKind = "robot" }},
		{"client without id", func(e *Entry) { e.ActorID = "" }},
		{"outcome", func(e *Entry) { e.Outcome = "maybe" }},
		{"empty action", func(e *Entry) { e.Action = "" }},
		{"action uppercase", func(e *Entry) { e.Action = "Tenant.create" }},
		{"action space", func(e *Entry) { e.Action = "tenant create" }},
		{"action too long", func(e *Entry) { e.Action = strings.Repeat("a", MaxActionLen+1) }},
		{"object too long", func(e *Entry) { e.Object = strings.Repeat("o", MaxObjectLen+1) }},
		{"tenant invalid utf8", func(e *Entry) { e.TenantID = "\xff" }},
		{"request id newline", func(e *Entry) { e.RequestID = "a\nb" }},
		{"detail key", func(e *Entry) { e.Details = map[string]string{"Name": "x"} }},
		{"detail value too long", func(e *Entry) { e.Details = map[string]string{"k": strings.Repeat("v", MaxDetailValLen+1)} }},
		{"too many details", func(e *Entry) {
			e.Details = map[string]string{}
			for i := range MaxDetails + 1 {
				e.Details[fmt.Sprintf("k%d", i)] = "v"
			}
		}},
	}
	if _, err := MarshalLeaf(ok); err != nil {
		t.Fatalf("MarshalLeaf(valid) = %v", err)
	}
	for _, tc := range tests {
		e := ok
		e.Details = map[string]string{"method": "ho"}
		tc.edit(&e)
		if _, err := MarshalLeaf(e); !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("MarshalLeaf(%s) = %v, want ErrInvalidEntry", tc.name, err)
		}
	}
	sys := Entry{Time: ok.Time, ActorKind: ActorSystem, Action: "ops.start", Outcome: OutcomeOK}
	if _, err := MarshalLeaf(sys); err != nil {
		t.Errorf("MarshalLeaf(system entry without ids) = %v, want nil", err)
	}
}

func TestParseLeafRejectsNonCanonical(t *testing.T) {
	good, err := MarshalLeaf(testEntry(4))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"version 2", append([]byte{2}, good[1:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"too long", make([]byte, MaxLeafLen+1)},
	}
	// Unsorted details: swap the order of two keys by hand.
	e := Entry{Time: time.Unix(1e9, 0), ActorKind: ActorSystem, Action: "a", Outcome: OutcomeOK, Details: map[string]string{"a": "", "b": ""}}
	sorted, _ := MarshalLeaf(e)
	unsorted := bytes.Replace(sorted, []byte{0, 1, 'a', 0, 0, 0, 1, 'b', 0, 0}, []byte{0, 1, 'b', 0, 0, 0, 1, 'a', 0, 0}, 1)
	dup := bytes.Replace(sorted, []byte{0, 1, 'a', 0, 0, 0, 1, 'b', 0, 0}, []byte{0, 1, 'a', 0, 0, 0, 1, 'a', 0, 0}, 1)
	tests = append(tests, struct {
		name string
		b    []byte
	}{"unsorted details", unsorted}, struct {
		name string
		b    []byte
	}{"duplicate details", dup})
	for _, tc := range tests {
		if _, err := ParseLeaf(tc.b); !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("ParseLeaf(%s) = %v, want ErrInvalidEntry", tc.name, err)
		}
	}
}

func TestCheckpointFormat(t *testing.T) {
	s := testSigner(t, testSKey)
	c := Checkpoint{Origin: s.Name(), Size: 20852163, Root: [32]byte{1, 2, 3}}
	signed, err := SignCheckpoint(c, s)
	if err != nil {
		t.Fatal(err)
	}
	wantText := "test.madoguchi.invalid/audit\n20852163\nAQIDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— test.madoguchi.invalid/audit "
	if !strings.HasPrefix(string(signed), wantText) {
		t.Errorf("SignCheckpoint = %q, want prefix %q", signed, wantText)
	}
	got, err := VerifyCheckpoint(signed, testVKey)
	if err != nil {
		t.Fatalf("VerifyCheckpoint = %v", err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("VerifyCheckpoint mismatch (-want +got):\n%s", diff)
	}
	if s.VerifierKey() != testVKey {
		t.Errorf("VerifierKey() = %q, want %q", s.VerifierKey(), testVKey)
	}

	other := testSigner(t, otherSKey)
	forged, err := SignCheckpoint(c, other)
	if err != nil {
		t.Fatal(err)
	}
	// A changed size under the real signature.
	resized := bytes.Replace(signed, []byte("\n20852163\n"), []byte("\n20852164\n"), 1)
	// The real signature line moved under another origin.
	for name, b := range map[string][]byte{
		"other key, same name": forged,
		"size edited":          resized,
		"no signature":         c.Text(),
		"signature truncated":  signed[:len(signed)-10],
	} {
		if _, err := VerifyCheckpoint(b, testVKey); !errors.Is(err, ErrCheckpoint) {
			t.Errorf("VerifyCheckpoint(%s) = %v, want ErrCheckpoint", name, err)
		}
	}
	if _, err := SignCheckpoint(Checkpoint{Origin: "elsewhere/log"}, s); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("SignCheckpoint(other origin) = %v, want ErrCheckpoint", err)
	}
}

func TestParseCheckpoint(t *testing.T) {
	root := "AQIDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	good := []string{
		"o\n0\n" + root + "\n",
		"example.com/log\n7\n" + root + "\next one\n",
	}
	for _, s := range good {
		if _, err := ParseCheckpoint([]byte(s)); err != nil {
			t.Errorf("ParseCheckpoint(%q) = %v, want nil", s, err)
		}
	}
	bad := []string{
		"",
		"o\n0\n" + root,                      // no final newline
		"o\n007\n" + root + "\n",             // leading zeros
		"o\n-1\n" + root + "\n",              // negative
		"o\n1\nAQID\n",                       // short root
		"o\n1\n" + root + "\n\nx\n",          // empty extension line
		"\n1\n" + root + "\n",                // empty origin
		"o o\n1\n" + root + "\n",             // space in origin
		"o\n1\n" + root[:len(root)-1] + "\n", // bad base64
		"o\n9223372036854775808\n" + root + "\n",
	}
	for _, s := range bad {
		if _, err := ParseCheckpoint([]byte(s)); !errors.Is(err, ErrCheckpoint) {
			t.Errorf("ParseCheckpoint(%q) = %v, want ErrCheckpoint", s, err)
		}
	}
}

func TestCheckNotRolledBack(t *testing.T) {
	a := Checkpoint{Origin: "o", Size: 5, Root: [32]byte{1}}
	tests := []struct {
		prev, next Checkpoint
		want       error
	}{
		{a, Checkpoint{Origin: "o", Size: 6}, nil},
		{a, a, nil},
		{a, Checkpoint{Origin: "o", Size: 4}, ErrRollback},
		{a, Checkpoint{Origin: "o", Size: 5, Root: [32]byte{2}}, ErrTampered},
		{a, Checkpoint{Origin: "p", Size: 6}, ErrCheckpoint},
	}
	for _, tc := range tests {
		if err := CheckNotRolledBack(tc.prev, tc.next); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("CheckNotRolledBack(%d, %d) = %v, want %v", tc.prev.Size, tc.next.Size, err, tc.want)
		}
	}
}

func TestSignerKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", "audit-signer.key")
	if _, err := LoadSigner(path); !errors.Is(err, os.ErrNotExist) || !errors.Is(err, ErrKeyFile) {
		t.Errorf("LoadSigner(missing) = %v, want ErrKeyFile and ErrNotExist", err)
	}
	s, created, err := LoadOrCreateDevSigner(path, "dev.madoguchi.invalid/audit")
	if err != nil || !created {
		t.Fatalf("LoadOrCreateDevSigner = %v, %v; want created", created, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", st.Mode(), err)
	}
	s2, created, err := LoadOrCreateDevSigner(path, "ignored")
	if err != nil || created || s2.VerifierKey() != s.VerifierKey() {
		t.Errorf("LoadOrCreateDevSigner again = %v, created %v, %v; want the same key", s2, created, err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(path); !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), "0640") {
		t.Errorf("LoadSigner(0640) = %v, want ErrKeyFile naming the mode", err)
	}
	if _, _, err := LoadOrCreateDevSigner(path, "x"); !errors.Is(err, ErrKeyFile) {
		t.Errorf("LoadOrCreateDevSigner(0640 file) = %v, want ErrKeyFile (no silent replacement)", err)
	}
	for name, content := range map[string]string{
		"garbage":    "not a key",
		"public key": testVKey,
		"too large":  strings.Repeat("A", maxKeyFile+1),
		"ml-dsa-ish": "PRIVATE+KEY+x+00000000+AgAAAA==",
		"two keys":   testSKey + "\n" + otherSKey,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadSigner(p); !errors.Is(err, ErrKeyFile) {
			t.Errorf("LoadSigner(%s) = %v, want ErrKeyFile", name, err)
		}
	}
}

func TestSignerNeverPrintsPrivateKey(t *testing.T) {
	s := testSigner(t, testSKey)
	secret := testSKey[strings.LastIndex(testSKey, "+")+1:]
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("signer", "s", s)
	for _, out := range []string{buf.String(), fmt.Sprint(s), fmt.Sprintf("%v %+v", s, s)} {
		if strings.Contains(out, secret) || strings.Contains(out, "PRIVATE") {
			t.Errorf("signer output %q contains the private key", out)
		}
	}
	if _, _, err := GenerateSigner(rand.Reader, "bad name"); err == nil {
		t.Errorf("GenerateSigner(name with space) = nil error, want an error")
	}
}

func TestProofFiles(t *testing.T) {
	s := testSigner(t, testSKey)
	leaf, err := MarshalLeaf(testEntry(0))
	if err != nil {
		t.Fatal(err)
	}
	// A one-leaf tree: the root is the leaf hash and the proof is empty.
	root := LeafHash(leaf)
	signed, err := SignCheckpoint(Checkpoint{Origin: s.Name(), Size: 1, Root: root}, s)
	if err != nil {
		t.Fatal(err)
	}
	f := FormatInclusionProof(InclusionProofFile{Leaf: leaf, Index: 0, Checkpoint: signed})
	e, cp, err := VerifyInclusionProof(f, testVKey)
	if err != nil || cp.Size != 1 || e.Object != testEntry(0).Object {
		t.Fatalf("VerifyInclusionProof = %+v, %+v, %v", e, cp, err)
	}
	other, _ := MarshalLeaf(testEntry(1))
	for name, b := range map[string][]byte{
		"other leaf":  FormatInclusionProof(InclusionProofFile{Leaf: other, Index: 0, Checkpoint: signed}),
		"other index": bytes.Replace(f, []byte("\nindex 0\n"), []byte("\nindex 1\n"), 1),
		"no leaf":     FormatInclusionProof(InclusionProofFile{Index: 0, Checkpoint: signed}),
		"extra hash":  FormatInclusionProof(InclusionProofFile{Leaf: leaf, Index: 0, Proof: [][]byte{root[:]}, Checkpoint: signed}),
		"header":      bytes.Replace(f, []byte("tlog-proof@v1"), []byte("tlog-proof@v2"), 1),
	} {
		if _, _, err := VerifyInclusionProof(b, testVKey); err == nil {
			t.Errorf("VerifyInclusionProof(%s) = nil, want an error", name)
		}
	}
	h := [][]byte{bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{8}, 32)}
	cf := FormatConsistencyProof(3, 9, h)
	o, n, p, err := ParseConsistencyProof(cf)
	if err != nil || o != 3 || n != 9 || !cmp.Equal(p, h) {
		t.Errorf("ParseConsistencyProof(FormatConsistencyProof(3, 9, h)) = %d, %d, %x, %v", o, n, p, err)
	}
	for _, b := range []string{"", "madoguchi.audit/consistency-proof@v1\nold 1\n", "madoguchi.audit/consistency-proof@v1\nold 01\nnew 2\n", "madoguchi.audit/consistency-proof@v1\nold 1\nnew 2\nAAAA\n"} {
		if _, _, _, err := ParseConsistencyProof([]byte(b)); !errors.Is(err, ErrProof) {
			t.Errorf("ParseConsistencyProof(%q) = %v, want ErrProof", b, err)
		}
	}
}

func FuzzParseLeaf(f *testing.F) {
	for i := range 3 {
		b, _ := MarshalLeaf(testEntry(i))
		f.Add(b)
	}
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseLeaf(b)
		if err != nil {
			return
		}
		// Canonical: whatever parses re-encodes to the same bytes.
		back, err := MarshalLeaf(e)
		if err != nil {
			t.Fatalf("MarshalLeaf(ParseLeaf(b)) = %v", err)
		}
		if !bytes.Equal(back, b) {
			t.Fatalf("MarshalLeaf(ParseLeaf(%x)) = %x, not canonical", b, back)
		}
	})
}

func FuzzVerifyCheckpoint(f *testing.F) {
	s := testSigner(f, testSKey)
	signed, _ := SignCheckpoint(Checkpoint{Origin: s.Name(), Size: 5, Root: [32]byte{9}}, s)
	f.Add(signed)
	f.Add([]byte("test.madoguchi.invalid/audit\n5\nAQIDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— test.madoguchi.invalid/audit AAAA\n"))
	f.Add([]byte("o\n1\nx\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := ParseCheckpoint(b); err == nil {
			back, err := ParseCheckpoint(c.Text())
			if err != nil || !cmp.Equal(back, c) {
				t.Fatalf("ParseCheckpoint(Text()) = %+v, %v; want %+v", back, err, c)
			}
		}
		c, err := VerifyCheckpoint(b, testVKey)
		if err == nil && (c.Origin != s.Name() || !bytes.HasPrefix(b, c.Text())) {
			t.Fatalf("VerifyCheckpoint accepted %q as %+v", b, c)
		}
	})
}

func FuzzProofFiles(f *testing.F) {
	s := testSigner(f, testSKey)
	leaf, _ := MarshalLeaf(testEntry(0))
	signed, _ := SignCheckpoint(Checkpoint{Origin: s.Name(), Size: 1, Root: LeafHash(leaf)}, s)
	f.Add(FormatInclusionProof(InclusionProofFile{Leaf: leaf, Index: 0, Checkpoint: signed}))
	f.Add(FormatConsistencyProof(2, 5, [][]byte{bytes.Repeat([]byte{1}, 32)}))
	f.Add([]byte("c2sp.org/tlog-proof@v1\nindex 0\n\nx"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := ParseInclusionProof(b); err == nil {
			for _, h := range p.Proof {
				if len(h) != 32 {
					t.Fatalf("ParseInclusionProof returned a %d-byte hash", len(h))
				}
			}
			_, _, _ = VerifyInclusionProof(b, testVKey)
		}
		if o, n, p, err := ParseConsistencyProof(b); err == nil {
			if !bytes.Equal(FormatConsistencyProof(o, n, p), b) {
				t.Fatalf("FormatConsistencyProof(ParseConsistencyProof(%q)) differs", b)
			}
			_ = VerifyConsistency(o, n, [32]byte{}, [32]byte{}, p)
		}
	})
}

func FuzzVerifyProofs(f *testing.F) {
	f.Add(uint64(5), uint64(8), []byte{}, []byte{})
	f.Add(uint64(0), uint64(1), bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 64))
	f.Fuzz(func(t *testing.T, a, b uint64, root, proof []byte) {
		var hs [][]byte
		for len(proof) >= 32 {
			hs = append(hs, proof[:32])
			proof = proof[32:]
		}
		var r [32]byte
		copy(r[:], root)
		// Must not panic on any input; tlog panics on bad internal math.
		_ = VerifyInclusion(r, a, b, hs, r)
		_ = VerifyConsistency(a, b, r, r, hs)
	})
}
