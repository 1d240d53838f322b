package portal

import (
	"bytes"
	"errors"
	"image/png"
	"net/http"
	"strconv"

	"github.com/madoguchi/madoguchi/document/imaging"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face/imageio"
	"github.com/madoguchi/madoguchi/face/imageio/jpeg2000"
)

// The workbench's images, for the reviewer holding the claim; each is an
// audited view in the ekyc domain. Nothing decoded is stored: a JPEG 2000
// chip photo (which browsers do not render) and a rectified card are
// converted to PNG in memory for this one answer.

// reviewFrame answers one captured frame as it was captured (JPEG or PNG).
func reviewFrame(rq *Request) error {
	rv, id, err := loadReview(rq)
	if err != nil {
		return err
	}
	seq, err := frameSeq(rq)
	if err != nil {
		return err
	}
	img, err := rv.FrameImage(rq.Ctx(), rq.reviewer(), id, seq)
	return writeFrame(rq, img, err)
}

// frameSeq is the request's frame number ({seq}, 1 to 1000), or
// ErrNotFound.
func frameSeq(rq *Request) (int, error) {
	seq, err := strconv.Atoi(rq.PathValue("seq"))
	if err != nil || seq < 1 || seq > 1000 {
		return 0, ErrNotFound
	}
	return seq, nil
}

// writeFrame answers a captured frame as it was read: as captured (JPEG or
// PNG), or a 404 for a read error or anything else.
func writeFrame(rq *Request, img []byte, err error) error {
	if err != nil {
		return notFoundEKYC(claimedIsNotFound(err))
	}
	ct := http.DetectContentType(img)
	if ct != "image/jpeg" && ct != "image/png" {
		return ErrNotFound
	}
	return writeImage(rq, ct, img)
}

// reviewCard answers a document frame (ホ) rectified to the card found in
// it by the automated checks (document/imaging), as PNG.
func reviewCard(rq *Request) error {
	rv, id, err := loadReview(rq)
	if err != nil {
		return err
	}
	kind := imaging.FrameKind(rq.PathValue("kind"))
	if kind != imaging.Front && kind != imaging.Back && kind != imaging.Tilt {
		return ErrNotFound
	}
	ev, err := rv.Evidence(rq.Ctx(), rq.reviewer(), id)
	if err != nil {
		return notFoundEKYC(claimedIsNotFound(err))
	}
	if ev.Documents == nil {
		return ErrNotFound
	}
	fr, ok := ev.Documents.Frame(kind)
	if !ok || fr.Outline == nil {
		return ErrNotFound
	}
	seq := 0
	for _, f := range ev.Frames {
		if string(f.Kind) == "doc_"+string(kind) {
			seq = f.Seq
			break
		}
	}
	if seq == 0 {
		return ErrNotFound
	}
	raw, err := rv.FrameImage(rq.Ctx(), rq.reviewer(), id, seq)
	if err != nil {
		return notFoundEKYC(claimedIsNotFound(err))
	}
	img, _, err := imageio.Decode(raw, imageio.DefaultLimits())
	if err != nil {
		return ErrNotFound
	}
	card, err := imaging.Rectify(img, *fr.Outline, imaging.CardWidth, imaging.CardHeight)
	if err != nil {
		return ErrNotFound
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, card); err != nil {
		return err
	}
	return writeImage(rq, "image/png", buf.Bytes())
}

// reviewChipPhoto answers the chip's portrait (ヘ): a JPEG 2000 photo is
// decoded and re-encoded as PNG in memory; a JPEG one is sent as it is.
func reviewChipPhoto(rq *Request) error {
	rv, id, err := loadReview(rq)
	if err != nil {
		return err
	}
	raw, format, err := rv.ChipPhoto(rq.Ctx(), rq.reviewer(), id)
	if err != nil {
		return notFoundEKYC(claimedIsNotFound(err))
	}
	return writeChipPhoto(rq, raw, format)
}

// writeChipPhoto answers a chip portrait: JPEG as it is, JPEG 2000 as PNG.
func writeChipPhoto(rq *Request, raw []byte, format string) error {
	if format == "jpeg" && http.DetectContentType(raw) == "image/jpeg" {
		return writeImage(rq, "image/jpeg", raw)
	}
	img, err := jpeg2000.Decode(bytes.NewReader(raw)) // capped at 4 Mpx by the decoder
	if err != nil {
		return ErrNotFound
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	return writeImage(rq, "image/png", buf.Bytes())
}

// claimedIsNotFound: an image of a session the person does not hold is
// simply not there for them.
func claimedIsNotFound(err error) error {
	if errors.Is(err, ekyc.ErrClaimed) || errors.Is(err, ekyc.ErrState) {
		return ErrNotFound
	}
	return err
}

func writeImage(rq *Request, ct string, b []byte) error {
	h := rq.W.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Content-Disposition", "inline")
	rq.W.WriteHeader(http.StatusOK)
	_, err := rq.W.Write(b)
	return err
}
