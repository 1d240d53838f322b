package imaging

import "image"

// workSide is the longest side of the plane on which the card outline is
// searched.
const workSide = 640

func workScale(b image.Rectangle) int {
	return max(1, (max(b.Dx(), b.Dy())+workSide-1)/workSide)
}
