package fraud

import (
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"
)

// Synthetic watchlist entries for the screening benchmark: fictional
// names made of random kana syllables (surname 2-4, given name 2-3), with
// their Hepburn spelling, and kanji names drawn from common name
// characters; a random birth date on most entries.
var (
	benchSyllables = strings.Fields("カ キ ク ケ コ サ シ ス セ ソ タ チ ツ テ ト ナ ニ ヌ ネ ノ ハ ヒ フ ヘ ホ マ ミ ム メ モ ヤ ユ ヨ ラ リ ル レ ロ ワ ガ ギ グ ゲ ゴ ザ ジ ズ ゼ ゾ ダ デ ド バ ビ ブ ベ ボ ア イ ウ エ オ")
	benchKanji     = []rune("山田中川本村井上下木林森松竹原野田島岡石小大高橋佐藤鈴伊渡辺加吉清水斉藤近坂後前長谷藤和太郎一二三花子美恵真由香健誠翔大輔直樹洋平修浩明")
)

func benchEntry(r *mrand.Rand, i int) ListEntry {
	kana := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(benchSyllables[r.IntN(len(benchSyllables))])
		}
		return b.String()
	}
	kanji := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteRune(benchKanji[r.IntN(len(benchKanji))])
		}
		return b.String()
	}
	e := ListEntry{ID: fmt.Sprintf("E%d", i), ListID: "bench"}
	sur, given := kana(2+r.IntN(3)), kana(2+r.IntN(2))
	e.Kana = sur + " " + given
	lt := phoneticTokens(e.Kana)
	if len(lt) == 2 {
		e.Latin = strings.ToUpper(lt[1]) + " " + strings.ToUpper(lt[0])
	}
	e.Name = kanji(2) + " " + kanji(1+r.IntN(2))
	if r.IntN(10) > 0 {
		e.BirthDate = time.Date(1930+r.IntN(80), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	}
	return e
}

// BenchmarkScreen: one applicant (kanji, kana and Latin names, birth
// date) screened against a compiled list of N entries, for N = 10,000 and
// 10,000,000 (MADOGUCHI_BENCH_LIST overrides the larger), with the cost of
// normalising the applicant's names alone as the same-run baseline.
func BenchmarkScreen(b *testing.B) {
	big := 10_000_000
	if s := benchEnv("MADOGUCHI_BENCH_LIST"); s > 0 {
		big = s
	}
	applicant := []string{"山田 太郎", "ヤマダ タロウ", "Taro YAMADA"}
	b.Run("normalise-only", func(b *testing.B) {
		for b.Loop() {
			for _, n := range applicant {
				_ = nameKeys(n)
			}
		}
	})
	for _, n := range []int{10_000, big} {
		r := mrand.New(mrand.NewPCG(31, 32))
		entries := make([]ListEntry, n)
		for i := range entries {
			entries[i] = benchEntry(r, i)
		}
		// Plant the applicant's entry so each query is a hit.
		entries[n/2] = ListEntry{ID: "PLANTED", ListID: "bench", Name: "山田 太郎", Kana: "ヤマダ タロウ", BirthDate: "1960-01-02"}
		sc := newScreener()
		start := time.Now()
		c := sc.compile(1, entries)
		b.Logf("compiled %d entries in %s: %d keys, %.0f bytes/entry", n, time.Since(start).Round(time.Millisecond), len(c.hashes), float64(c.bytes())/float64(n))
		entries = nil
		sc.set("t", "bench", c)
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			for b.Loop() {
				hs := sc.match("t", applicant, "1960-01-02")
				if len(hs) == 0 || hs[0].entry != "PLANTED" {
					b.Fatalf("match = %+v, want the planted entry", hs)
				}
			}
			b.ReportMetric(float64(c.bytes())/float64(n), "bytes/entry")
		})
		sc.set("t", "bench", nil)
	}
}
