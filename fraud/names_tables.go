package fraud

// kanaRomaji romanises hiragana (katakana are folded to hiragana first).
// Source: the Hepburn table of the passport romanisation rules (外務省
// 「ヘボン式ローマ字綴方表」), plus the small-vowel syllables used for
// foreign names in katakana (ファ, ティ, ウィ, ヴァ …) as the same table's
// 「外来語」 guidance writes them. Long vowels are left to foldRomaji.
var kanaRomaji = map[string]string{
	"あ": "a", "い": "i", "う": "u", "え": "e", "お": "o",
	"か": "ka", "き": "ki", "く": "ku", "け": "ke", "こ": "ko",
	"さ": "sa", "し": "shi", "す": "su", "せ": "se", "そ": "so",
	"た": "ta", "ち": "chi", "つ": "tsu", "て": "te", "と": "to",
	"な": "na", "に": "ni", "ぬ": "nu", "ね": "ne", "の": "no",
	"は": "ha", "ひ": "hi", "ふ": "fu", "へ": "he", "ほ": "ho",
	"ま": "ma", "み": "mi", "む": "mu", "め": "me", "も": "mo",
	"や": "ya", "ゆ": "yu", "よ": "yo",
	"ら": "ra", "り": "ri", "る": "ru", "れ": "re", "ろ": "ro",
	"わ": "wa", "ゐ": "i", "ゑ": "e", "を": "o", "ん": "n",
	"が": "ga", "ぎ": "gi", "ぐ": "gu", "げ": "ge", "ご": "go",
	"ざ": "za", "じ": "ji", "ず": "zu", "ぜ": "ze", "ぞ": "zo",
	"だ": "da", "ぢ": "ji", "づ": "zu", "で": "de", "ど": "do",
	"ば": "ba", "び": "bi", "ぶ": "bu", "べ": "be", "ぼ": "bo",
	"ぱ": "pa", "ぴ": "pi", "ぷ": "pu", "ぺ": "pe", "ぽ": "po",
	"ぁ": "a", "ぃ": "i", "ぅ": "u", "ぇ": "e", "ぉ": "o",
	"ゃ": "ya", "ゅ": "yu", "ょ": "yo", "ゎ": "wa", "ゔ": "bu", "ゕ": "ka", "ゖ": "ke",
	"きゃ": "kya", "きゅ": "kyu", "きょ": "kyo", "しゃ": "sha", "しゅ": "shu", "しょ": "sho",
	"ちゃ": "cha", "ちゅ": "chu", "ちょ": "cho", "にゃ": "nya", "にゅ": "nyu", "にょ": "nyo",
	"ひゃ": "hya", "ひゅ": "hyu", "ひょ": "hyo", "みゃ": "mya", "みゅ": "myu", "みょ": "myo",
	"りゃ": "rya", "りゅ": "ryu", "りょ": "ryo", "ぎゃ": "gya", "ぎゅ": "gyu", "ぎょ": "gyo",
	"じゃ": "ja", "じゅ": "ju", "じょ": "jo", "ぢゃ": "ja", "ぢゅ": "ju", "ぢょ": "jo",
	"びゃ": "bya", "びゅ": "byu", "びょ": "byo", "ぴゃ": "pya", "ぴゅ": "pyu", "ぴょ": "pyo",
	"しぇ": "she", "ちぇ": "che", "じぇ": "je", "てぃ": "ti", "でぃ": "di", "とぅ": "tu", "どぅ": "du",
	"ふぁ": "fa", "ふぃ": "fi", "ふぇ": "fe", "ふぉ": "fo", "うぃ": "wi", "うぇ": "we", "うぉ": "wo",
	"ゔぁ": "ba", "ゔぃ": "bi", "ゔぇ": "be", "ゔぉ": "bo", "つぁ": "tsa",
}

// variantKanji folds old (旧字体) and variant (異体字) forms of kanji common
// in names to the standard form used in the family register today.
// Sources, per group:
//   - 常用漢字表 (平成22年内閣告示第2号): the 康熙字典体 printed in
//     brackets beside each character (國→国, 澤→沢, 濱→浜, 廣→広, …);
//   - 戸籍法施行規則 別表第二 (人名用漢字) 二: the 旧字体 pairs allowed in
//     names (惠→恵, 德→徳, 眞→真, …);
//   - the everyday variants that are neither (髙 はしご高, 﨑 たつさき,
//     邉/邊 for 辺, 嶋 for 島, 冨 for 富, 桒 for 桑): the pairs 法務省's
//     戸籍統一文字 information lists as 同字 (same character) with the
//     standard form.
//
// CJK compatibility ideographs with a canonical decomposition (U+F900–
// U+FAFF, e.g. 塚 U+FA10) are already folded by NFKC and are not listed.
var variantKanji = map[rune]rune{
	// 常用漢字表 brackets.
	'國': '国', '澤': '沢', '濱': '浜', '廣': '広', '櫻': '桜', '齋': '斎', '齊': '斉', '學': '学',
	'藏': '蔵', '壽': '寿', '榮': '栄', '實': '実', '淺': '浅', '驛': '駅', '醫': '医', '圓': '円',
	'鐵': '鉄', '會': '会', '與': '与', '莊': '荘', '條': '条', '澁': '渋', '禮': '礼',
	'邊': '辺', '邉': '辺', '龍': '竜', '廳': '庁', '縣': '県', '關': '関', '戰': '戦', '黑': '黒',
	'兒': '児', '稻': '稲', '嶽': '岳', '爲': '為', '壯': '壮', '豐': '豊', '佛': '仏', '參': '参',
	'萬': '万', '寳': '宝', '寶': '宝', '寬': '寛', '樂': '楽', '傳': '伝', '團': '団', '增': '増',
	'惠': '恵', '德': '徳', '眞': '真', '彌': '弥', '螢': '蛍', '來': '来', '淸': '清',
	'靜': '静', '瀨': '瀬', '讓': '譲', '溪': '渓', '繪': '絵',
	'髮': '髪', '賴': '頼', '經': '経', '絲': '糸', '續': '続', '總': '総', '聰': '聡',
	// Everyday variants (戸籍統一文字 同字).
	'髙': '高', '﨑': '崎', '嵜': '崎', '嶋': '島', '嶌': '島', '冨': '富', '桒': '桑',
	'邨': '村', '峯': '峰', '舘': '館', '篭': '籠', '濵': '浜', '渕': '淵', '莖': '茎', '躰': '体',
}
