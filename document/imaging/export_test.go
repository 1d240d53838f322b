package imaging

import "image"

// RenderFront draws the synthetic front frame used by the frame tests with
// face pasted into the portrait area (nil: a drawn placeholder), and
// returns it with the projected portrait area's bounding box.
func RenderFront(face image.Image) (*image.RGBA, image.Rectangle) {
	s := goodFront
	s.card.faceTex = face
	hm, _ := rectToQuad(cardW, cardH, s.corners())
	a := hm.apply(float64(portraitRect.Min.X), float64(portraitRect.Min.Y))
	b := hm.apply(float64(portraitRect.Max.X), float64(portraitRect.Max.Y))
	return s.render(), image.Rect(int(a.X), int(a.Y), int(b.X), int(b.Y)).Canon()
}
