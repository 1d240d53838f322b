package ekyc

// Image memory: what decoding the evidence may cost, bounded twice.
//
// Invariants:
//   - At upload (AddFrame) an image is inspected from its headers without
//     decoding a pixel (imageio.Inspect): one whose decoded size
//     (imageio.Header.DecodedBytes: the decoder's raster plus the RGBA
//     result) exceeds MaxDecodedImageBytes is ErrTooLarge, and one that is
//     cut short, corrupt or not JPEG/PNG is ErrImage — refused when it
//     arrives, never found at decision time.
//   - At decision time every decode happens inside the service's image
//     budget (Config.DecodeBudget bytes, held across all sessions): an
//     analysis acquires its image's decoded size plus the engine's working
//     set before the bytes are decoded and releases it when the analysis
//     returns. A decision that cannot get its share within imageBudgetWait
//     is ErrBusy: the session stays submitted and DecidePending decides it
//     later. So the decoded pixels held at once never exceed the budget,
//     however many sessions are submitted together.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/face/imageio"
	"golang.org/x/sync/semaphore"
)

// Image limits.
const (
	// MaxDecodedImageBytes bounds one uploaded image's decoded size
	// (pixels × channels × bytes per sample as decoded, plus the 8-bit RGBA
	// result): 96 MiB admits a 12-megapixel 8-bit colour JPEG and refuses a
	// 4096×4096 8-bit RGB PNG (112 MiB) or any 16-bit colour image larger
	// than about 2900×2900.
	MaxDecodedImageBytes = 96 << 20
	// DefaultDecodeBudget is Config.DecodeBudget's default: two worst-case
	// images with the engine's working set.
	DefaultDecodeBudget = 256 << 20
	// engineWorkingSet is what the face engine allocates per analysis
	// beyond the decoded image (zoom-out canvases of a halved copy, network
	// inputs and activations); measured well under it (docs/benchmarks.md).
	engineWorkingSet = 32 << 20
	// jpeg2000Cost is the budget of a JPEG 2000 chip photo, which
	// imageio.Inspect does not measure: its decoder is capped at 4
	// megapixels (int32 planes for three components, plus RGBA).
	jpeg2000Cost = 64 << 20
	// imageBudgetWait bounds how long a decision waits for the budget.
	imageBudgetWait = 20 * time.Second
)

// ErrImage: an uploaded image is not a whole JPEG or PNG (truncated,
// corrupt, or another format); the message says which.
var ErrImage = errors.New("ekyc: image refused")

// uploadLimits are the capture limits as imageio limits.
func uploadLimits() imageio.Limits {
	return imageio.Limits{MaxBytes: MaxImageBytes, MaxPixels: MaxImageSide * MaxImageSide, MaxSide: MaxImageSide}
}

// checkImage accepts a whole JPEG or PNG whose sides are within
// MaxImageSide and whose decoded size is within MaxDecodedImageBytes,
// from its headers and a streamed check of its data (no pixel decoded).
func checkImage(b []byte) error {
	h, err := imageio.Inspect(b, uploadLimits())
	switch {
	case errors.Is(err, imageio.ErrTooLarge):
		return fmt.Errorf("%w: image sides must be 1-%d pixels", ErrTooLarge, MaxImageSide)
	case errors.Is(err, imageio.ErrTruncated):
		return fmt.Errorf("%w: the image is truncated (its data ends early); capture it again", ErrImage)
	case errors.Is(err, imageio.ErrCorrupt):
		return fmt.Errorf("%w: the image is corrupt (its structure or checksums do not verify)", ErrImage)
	case err != nil:
		return fmt.Errorf("%w: the image must be a JPEG or PNG", ErrImage)
	case h.DecodedBytes > MaxDecodedImageBytes:
		return fmt.Errorf("%w: the image would decode to %d MiB (%dx%d, %d channels of %d bytes), over the %d MiB limit",
			ErrTooLarge, (h.DecodedBytes+1<<20-1)>>20, h.Width, h.Height, h.Channels, h.BytesPerSample, MaxDecodedImageBytes>>20)
	}
	return nil
}

// imageCost is what analysing b takes from the budget.
func imageCost(b []byte) int64 {
	h, err := imageio.Inspect(b, imageio.DefaultLimits())
	if err != nil {
		// JPEG 2000 chip photos, and anything the engine will refuse
		// quickly, cost a fixed share.
		return jpeg2000Cost + engineWorkingSet
	}
	return h.DecodedBytes + engineWorkingSet
}

// imageBudget bounds the decoded image bytes held at once.
type imageBudget struct {
	sem  *semaphore.Weighted
	size int64
}

func newImageBudget(size int64) *imageBudget {
	if size <= 0 {
		size = DefaultDecodeBudget
	}
	return &imageBudget{sem: semaphore.NewWeighted(size), size: size}
}

// acquire takes cost bytes (at most the whole budget), waiting at most
// imageBudgetWait; it returns the release function, or ErrBusy.
func (b *imageBudget) acquire(ctx context.Context, cost int64) (func(), error) {
	cost = min(max(cost, 1), b.size)
	wctx, cancel := context.WithTimeout(ctx, imageBudgetWait)
	defer cancel()
	if err := b.sem.Acquire(wctx, cost); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: image decoding budget in use", ErrBusy)
	}
	return func() { b.sem.Release(cost) }, nil
}
