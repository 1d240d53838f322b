package fraud

// Name normalisation for matching across scripts and variants.
//
// A name is reduced to keys in two spaces:
//   - the written space: NFKC (full-width Latin and half-width kana fold),
//     lower case, katakana folded to hiragana, old kanji forms (旧字体) and
//     common variants (異体字) folded to the standard form (variantKanji),
//     middle dots, hyphens and apostrophes removed;
//   - the phonetic space: kana romanised (Hepburn, kanaRomaji), Latin
//     letters stripped of diacritics (ō → o), then folded so that the
//     spellings of one reading meet: long vowels (ou, oo, oh, uu, ō, ー)
//     to one vowel, Kunrei/Nihon-shiki and Hepburn syllables to one form
//     (shi/si, chi/ti, tsu/tu, fu/hu, ji/zi, sha/sya, …), m before b, m, p
//     to n (Namba/Nanba), doubled consonants kept.
//
// A name of kana and Latin letters only is keyed in the phonetic space, any
// other name in the written space. Within a space, each name gives its tokens (split at spaces) sorted and
// joined (order-insensitive), and for names of two or more tokens the
// tokens run together in both orders (spacing-insensitive). Two names
// match when they share a key in either space. Kanji have no reading here
// (no dictionary is shipped): a kanji name meets a kana or Latin name only
// through the kana or Latin fields of the list entry or the applicant.

import (
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// MaxNameLen bounds one name field (bytes).
const MaxNameLen = 256

// nameKeys returns the keys of one name: written space keys prefixed "w:",
// phonetic keys "p:". Empty names give none.
func nameKeys(name string) []string {
	if len(name) > MaxNameLen {
		name = name[:MaxNameLen]
	}
	// A name written only in kana and Latin letters is fully described by
	// its phonetic keys (the fold is coarser than the written one); the
	// written space serves names with kanji or other scripts.
	if p := phoneticTokens(name); len(p) > 0 {
		return dedupe(appendTokenKeys(nil, "p:", p))
	}
	if w := writtenTokens(name); len(w) > 0 {
		return dedupe(appendTokenKeys(nil, "w:", w))
	}
	return nil
}

// IdentityKey is the canonical written form of a name for identity
// digests: the runes of its written tokens (or phonetic ones for a name
// with no written token), sorted, so that order and spacing do not
// matter ("山田 花子", "山田花子", "花子 山田" are one key). Two different
// names with the same letters share a key; with the birth date in the
// digest that costs a missed "other personal data", never a false one.
func IdentityKey(name string) string {
	t := writtenTokens(name)
	if len(t) == 0 {
		t = phoneticTokens(name)
	}
	rs := []rune(strings.Join(t, ""))
	slices.Sort(rs)
	return string(rs)
}

func appendTokenKeys(keys []string, prefix string, toks []string) []string {
	sorted := append([]string(nil), toks...)
	sortStrings(sorted)
	keys = append(keys, prefix+strings.Join(sorted, " "))
	if len(toks) >= 2 {
		keys = append(keys, prefix+strings.Join(toks, ""))
		rev := make([]string, len(toks))
		for i, t := range toks {
			rev[len(toks)-1-i] = t
		}
		keys = append(keys, prefix+strings.Join(rev, ""))
	}
	return keys
}

// fold applies NFKC, lower case, katakana → hiragana and the variant
// table, and maps separators to spaces.
func fold(s string) string {
	s = norm.NFKC.String(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '・' || r == '･' || r == '·' || r == '‐' || r == '-' || r == '\'' || r == '’' || r == '.' || r == ',':
			// Separators inside names (Jean-Pierre, O'Brien, ヤマダ・タロウ).
			if r == '・' || r == '･' || r == '·' || r == ',' {
				b.WriteRune(' ')
			}
		case unicode.IsSpace(r):
			b.WriteRune(' ')
		case r >= 'ァ' && r <= 'ヶ':
			b.WriteRune(katakanaToHiragana(r))
		default:
			if v, ok := variantKanji[r]; ok {
				r = v
			}
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

func katakanaToHiragana(r rune) rune {
	switch r {
	case 'ヵ':
		return 'か'
	case 'ヶ':
		return 'け'
	case 'ヷ', 'ヸ', 'ヹ', 'ヺ':
		return r
	}
	if r >= 'ァ' && r <= 'ヶ' {
		return r - 0x60
	}
	return r
}

// writtenTokens are the space-separated tokens of the folded name that
// contain a letter (any script).
func writtenTokens(name string) []string {
	var out []string
	for _, t := range strings.Fields(fold(name)) {
		if hasLetter(t) {
			out = append(out, t)
		}
	}
	return out
}

func hasLetter(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// phoneticTokens romanises the kana and Latin tokens of name and folds
// their spelling variants. Tokens with kanji or other scripts have no
// phonetic form and are left out; a name with any such token has none.
func phoneticTokens(name string) []string {
	var out []string
	for _, t := range strings.Fields(fold(name)) {
		p, ok := phonetic(t)
		if !ok {
			return nil
		}
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// phonetic returns the folded romanisation of one token of hiragana and
// Latin letters, or false if it holds anything else.
func phonetic(tok string) (string, bool) {
	var b strings.Builder
	rs := []rune(tok)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case r == 'ー' || r == '〜' || r == '～':
			// The long-vowel mark lengthens the previous vowel: folded away.
		case r == 'っ':
			// Sokuon doubles the next consonant.
			if i+1 < len(rs) {
				if next, ok := kanaRomaji[string(rs[i+1])]; ok && next != "" && !isVowel(next[0]) {
					if strings.HasPrefix(next, "ch") {
						b.WriteByte('t') // Hepburn っち: tch
					} else {
						b.WriteByte(next[0])
					}
				}
			}
		case r >= 'ぁ' && r <= 'ゖ' || r == 'ゔ':
			// Two-kana syllables (きゃ) first.
			if i+1 < len(rs) {
				if s, ok := kanaRomaji[string(rs[i:i+2])]; ok {
					b.WriteString(s)
					i++
					continue
				}
			}
			s, ok := kanaRomaji[string(r)]
			if !ok {
				return "", false
			}
			b.WriteString(s)
		default:
			// Latin letters with diacritics (ō, â, é): strip the marks.
			d := norm.NFD.String(string(r))
			base := []rune(d)[0]
			if base >= 'a' && base <= 'z' {
				b.WriteRune(base)
				continue
			}
			return "", false
		}
	}
	return foldRomaji(b.String()), true
}

func isVowel(c byte) bool { return c == 'a' || c == 'i' || c == 'u' || c == 'e' || c == 'o' }

// romajiFolds turn the spellings of one reading into one form, applied in
// order (longest first). Sources: the Hepburn (ヘボン式, 外務省 passport
// table) and Kunrei (訓令式, 昭和29年内閣告示第1号) tables; the fold maps
// both onto Kunrei-like syllables.
var romajiFolds = []struct{ from, to string }{
	{"tch", "tty"}, {"sh", "sy"}, {"ch", "ty"}, {"ts", "t"}, {"j", "zy"}, {"dz", "z"},
	{"fu", "hu"}, {"f", "h"}, {"di", "zi"}, {"du", "zu"}, {"dy", "zy"},
	{"wo", "o"}, {"mb", "nb"}, {"mp", "np"}, {"mm", "nm"},
	{"syi", "si"}, {"tyi", "ti"}, {"zyi", "zi"},
}

// foldRomaji applies romajiFolds, then the long-vowel folds: "oh" before a
// consonant or at the end, "ou", and any doubled vowel become one vowel.
func foldRomaji(s string) string {
	for _, f := range romajiFolds {
		s = strings.ReplaceAll(s, f.from, f.to)
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 'h' && i > 0 && s[i-1] == 'o' && (i+1 == len(s) || !isVowel(s[i+1]) && s[i+1] != 'y') {
			continue // Ohno, Satoh
		}
		if len(b) > 0 && isVowel(c) {
			prev := b[len(b)-1]
			if prev == c || prev == 'o' && c == 'u' {
				continue
			}
		}
		b = append(b, c)
	}
	return string(b)
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
