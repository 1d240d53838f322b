package txauth

import (
	"bytes"
	"embed"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"sync"
)

// Picture is one picture of the image authentication card: an easily named
// object, with its name in Japanese and English and the emoji code point
// its image comes from (pictures/README.md: Noto Color Emoji, Apache 2.0).
type Picture struct {
	Name      string // English, also the file name
	NameJA    string
	CodePoint string
}

// NumPictures is the size of the picture set, and the number of cells of a
// card (5 rows × 10 columns): every card shows every picture once.
const NumPictures = 50

// Pictures is the picture set, in the order of their indexes (a card layout
// is a permutation of these indexes). Never reorder it: stored layouts hold
// indexes.
var Pictures = [NumPictures]Picture{
	{"apple", "りんご", "U+1F34E"},
	{"banana", "バナナ", "U+1F34C"},
	{"grapes", "ぶどう", "U+1F347"},
	{"strawberry", "いちご", "U+1F353"},
	{"watermelon", "すいか", "U+1F349"},
	{"cherries", "さくらんぼ", "U+1F352"},
	{"lemon", "レモン", "U+1F34B"},
	{"carrot", "にんじん", "U+1F955"},
	{"corn", "とうもろこし", "U+1F33D"},
	{"mushroom", "きのこ", "U+1F344"},
	{"dog", "いぬ", "U+1F436"},
	{"cat", "ねこ", "U+1F431"},
	{"rabbit", "うさぎ", "U+1F430"},
	{"pig", "ぶた", "U+1F437"},
	{"cow", "うし", "U+1F42E"},
	{"elephant", "ぞう", "U+1F418"},
	{"penguin", "ペンギン", "U+1F427"},
	{"fish", "さかな", "U+1F41F"},
	{"turtle", "かめ", "U+1F422"},
	{"frog", "かえる", "U+1F438"},
	{"butterfly", "ちょう", "U+1F98B"},
	{"chick", "ひよこ", "U+1F424"},
	{"octopus", "たこ", "U+1F419"},
	{"car", "くるま", "U+1F697"},
	{"bullet-train", "しんかんせん", "U+1F685"},
	{"airplane", "ひこうき", "U+2708"},
	{"ship", "ふね", "U+1F6A2"},
	{"bicycle", "じてんしゃ", "U+1F6B2"},
	{"rocket", "ロケット", "U+1F680"},
	{"house", "いえ", "U+1F3E0"},
	{"umbrella", "かさ", "U+1F302"},
	{"alarm-clock", "めざましどけい", "U+23F0"},
	{"key", "かぎ", "U+1F511"},
	{"light-bulb", "でんきゅう", "U+1F4A1"},
	{"book", "ほん", "U+1F4D5"},
	{"pencil", "えんぴつ", "U+270F"},
	{"scissors", "はさみ", "U+2702"},
	{"glasses", "めがね", "U+1F453"},
	{"top-hat", "シルクハット", "U+1F3A9"},
	{"sneaker", "スニーカー", "U+1F45F"},
	{"soccer-ball", "サッカーボール", "U+26BD"},
	{"guitar", "ギター", "U+1F3B8"},
	{"bell", "ベル", "U+1F514"},
	{"sunflower", "ひまわり", "U+1F33B"},
	{"cactus", "サボテン", "U+1F335"},
	{"moon", "みかづき", "U+1F319"},
	{"star", "ほし", "U+2B50"},
	{"sun", "たいよう", "U+2600"},
	{"snowman", "ゆきだるま", "U+26C4"},
	{"rice-ball", "おにぎり", "U+1F359"},
}

//go:embed pictures/*.png
var pictureFS embed.FS

var (
	pictureOnce sync.Once
	pictureImgs [NumPictures]*image.NRGBA
	pictureErr  error
)

// pictureImage returns picture i decoded (64×64, non-premultiplied RGBA).
func pictureImage(i int) (*image.NRGBA, error) {
	pictureOnce.Do(func() {
		for k, p := range Pictures {
			b, err := pictureFS.ReadFile("pictures/" + p.Name + ".png")
			if err != nil {
				pictureErr = err
				return
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				pictureErr = fmt.Errorf("txauth: picture %s: %w", p.Name, err)
				return
			}
			n := image.NewNRGBA(img.Bounds())
			draw.Draw(n, n.Bounds(), img, img.Bounds().Min, draw.Src)
			pictureImgs[k] = n
		}
	})
	if pictureErr != nil {
		return nil, pictureErr
	}
	if i < 0 || i >= NumPictures {
		return nil, fmt.Errorf("txauth: picture index %d out of range", i)
	}
	return pictureImgs[i], nil
}
