package fraud

import (
	"encoding/csv"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func matches(a, b string) bool {
	ka := nameKeys(a)
	for _, k := range nameKeys(b) {
		if slices.Contains(ka, k) {
			return true
		}
	}
	return false
}

func TestNameMatching(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"山田 太郎", "山田　太郎", true},
		{"山田 太郎", "山田太郎", true},
		{"山田 太郎", "太郎 山田", true},
		{"髙橋 一郎", "高橋 一郎", true},
		{"山﨑", "山崎", true},
		{"渡邊", "渡辺", true},
		{"渡邉", "渡辺", true},
		{"ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ タロウ", true},
		{"やまだ たろう", "ヤマダ タロウ", true},
		{"ヤマダ タロウ", "Taro YAMADA", true},
		{"ＴＡＲＯ　ＹＡＭＡＤＡ", "yamada taro", true},
		{"オオノ", "Ohno", true},
		{"オオノ", "Ōno", true},
		{"オオノ", "Oono", true},
		{"サトウ", "Satoh", true},
		{"サトウ", "Sato", true},
		{"シンジ", "Sinzi", true},
		{"ツチヤ", "Tutiya", true},
		{"フジタ", "Huzita", true},
		{"ナンバ", "Namba", true},
		{"ホンマ", "Homma", true},
		{"ユーキ", "ユウキ", true},
		{"キョウコ", "Kyoko", true},
		{"マッチャ", "Matcha", true},
		{"Jean-Pierre", "Jean Pierre", true},
		{"O'Brien", "OBrien", true},
		{"山田 太郎", "山田 次郎", false},
		{"斉藤", "斎藤", false},
		{"Sato", "Saito", false},
		{"Yuki", "Yuko", false},
		{"Ono", "Onoe", false},
		{"", "", false},
		{"山田", "ヤマダ", false}, // no reading for kanji
	} {
		if got := matches(tc.a, tc.b); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v (keys %q / %q)", tc.a, tc.b, got, tc.want, nameKeys(tc.a), nameKeys(tc.b))
		}
	}
}

func TestIdentityKey(t *testing.T) {
	same := [][2]string{{"山田 花子", "山田花子"}, {"山田 花子", "花子　山田"}, {"髙橋 一郎", "高橋一郎"}, {"Taro Yamada", "YAMADA TARO"}}
	for _, p := range same {
		if IdentityKey(p[0]) != IdentityKey(p[1]) {
			t.Errorf("IdentityKey(%q) != IdentityKey(%q)", p[0], p[1])
		}
	}
	if IdentityKey("山田 花子") == IdentityKey("山田 次郎") {
		t.Error("IdentityKey does not tell two names apart")
	}
}

// TestWatchlistPrecisionRecall screens the labelled queries of
// testdata/watchlist_queries.csv against the fictional list
// testdata/watchlist_eval.csv and reports precision and recall (quoted in
// docs/fraud.md). Every query names the entry it should hit or "-".
func TestWatchlistPrecisionRecall(t *testing.T) {
	f, err := os.Open("testdata/watchlist_eval.csv")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := ParseList("csv", "eval", f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	sc := newScreener()
	sc.set("t", "eval", sc.compile(1, entries))
	qf, err := os.Open("testdata/watchlist_queries.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer qf.Close()
	recs, err := csv.NewReader(qf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var tp, fp, fn, tn int
	for _, r := range recs[1:] {
		name, kana, latin, birth, want, cat := r[0], r[1], r[2], r[3], r[4], r[5]
		hits := sc.match("t", []string{name, kana, latin}, birth)
		got := map[string]bool{}
		for _, h := range hits {
			got[h.entry] = true
		}
		switch {
		case want != "-" && got[want]:
			tp++
		case want != "-":
			fn++
			t.Logf("missed %s (%s): %q %q %q", want, cat, name, kana, latin)
		case len(got) == 0:
			tn++
		}
		for id := range got {
			if id != want {
				fp++
				t.Logf("false hit %s for %s (%s): %q %q %q", id, want, cat, name, kana, latin)
			}
		}
	}
	precision := float64(tp) / float64(tp+fp)
	recall := float64(tp) / float64(tp+fn)
	t.Logf("watchlist screening on %d labelled queries: TP %d FP %d FN %d TN %d: precision %.3f recall %.3f",
		len(recs)-1, tp, fp, fn, tn, precision, recall)
	if precision < 0.95 || recall < 0.95 {
		t.Errorf("precision %.3f, recall %.3f; want both at least 0.95 on the labelled list", precision, recall)
	}
}

func FuzzNameKeys(f *testing.F) {
	for _, s := range []string{"山田 太郎", "ﾔﾏﾀﾞ ﾀﾛｳ", "Yōhei Ōno", "ッ", "ーー", "っっか", "O'Brien-Smith", "\u3000", "髙﨑", "ゔぁ", "きゃっ", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		keys := nameKeys(s)
		for _, k := range keys {
			if !strings.HasPrefix(k, "w:") && !strings.HasPrefix(k, "p:") {
				t.Fatalf("key %q has no space prefix", k)
			}
			if !utf8.ValidString(k) && utf8.ValidString(s) {
				t.Fatalf("key %q of valid input is not UTF-8", k)
			}
		}
		// Normalisation is idempotent: the NFKC form gives the same keys.
		if len(s) <= MaxNameLen && utf8.ValidString(s) {
			if got := nameKeys(norm.NFKC.String(s)); !slices.Equal(got, keys) && len(norm.NFKC.String(s)) <= MaxNameLen {
				t.Fatalf("nameKeys(NFKC(%q)) = %q, want %q", s, got, keys)
			}
		}
		_ = IdentityKey(s)
	})
}
