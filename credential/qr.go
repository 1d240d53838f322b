package credential

import (
	"fmt"

	qr "github.com/piglig/go-qr"
)

// QR is a credential rendered for the customer's phone: the symbol at
// error-correction level M (15 % of codewords recoverable: a scratched or
// glare-spotted phone screen still reads), alphanumeric mode.
type QR struct {
	Version int    // QR version (1-40); the symbol is 17+4*Version modules a side
	Modules int    // modules a side
	PNG     []byte // 8 px a module, 4-module quiet zone
	SVG     []byte
}

// qrScale and qrBorder: 8 pixels a module and the standard 4-module quiet
// zone.
const (
	qrScale  = 8
	qrBorder = 4
)

// RenderQR encodes QR text at level M (never boosted, so the level is the
// one stated) and renders it.
func RenderQR(text string) (*QR, error) {
	segs, err := qr.MakeSegments(text)
	if err != nil {
		return nil, err
	}
	code, err := qr.EncodeSegments(segs, qr.Medium, qr.MinVersion, qr.MaxVersion, -1, false)
	if err != nil {
		return nil, fmt.Errorf("credential: QR encoding: %w", err)
	}
	cfg := qr.NewQrCodeImgConfig(qrScale, qrBorder)
	png, err := code.ToPNGBytes(cfg)
	if err != nil {
		return nil, err
	}
	svg, err := code.ToSVGBytes(qr.NewQrCodeImgConfig(qrScale, qrBorder, qr.WithOptimalSVG()))
	if err != nil {
		return nil, err
	}
	return &QR{Version: (code.Size() - 17) / 4, Modules: code.Size(), PNG: png, SVG: svg}, nil
}
