package face

import (
	"image"
	"math"
)

// Quality holds ISO/IEC 29794-5-style quality components of one face. Each is
// a measurement, not a verdict; thresholds belong to the caller's policy.
type Quality struct {
	// FaceWidth is the detector box width in image pixels.
	FaceWidth float64 `json:"face_width"`
	// InterEye is the distance between the eye centres (means of landmarks
	// 36-41 and 42-47) in image pixels. ISO/IEC 19794-5 / ICAO portraits
	// ask for at least 90 px; below about 30 px recognition degrades fast.
	InterEye float64 `json:"inter_eye"`
	// Yaw, Pitch, Roll estimate head pose in degrees from the landmarks
	// (0 = frontal). Roll is exact for the eye line (positive: the right side
	// of the picture is lower). Yaw comes from the nose tip's offset between
	// the jaw ends; Pitch from the nose tip's height between the eye line and
	// the mouth relative to dlib's mean face. Both are approximations,
	// reliable in sign and up to about 30 degrees; with face-api's landmark
	// net, frontal portraits read a Pitch of about +8 to +13 degrees (its
	// nose tip sits lower than dlib's mean face), so compare Pitch between
	// captures rather than against 0.
	Yaw   float64 `json:"yaw"`
	Pitch float64 `json:"pitch"`
	Roll  float64 `json:"roll"`
	// Sharpness is the variance of the 4-neighbour Laplacian of the grey
	// aligned chip (0..255 scale). Sharp faces score in the hundreds; below
	// about 50 the face is blurred or heavily compressed.
	Sharpness float64 `json:"sharpness"`
	// Brightness is the mean grey level of the central face region of the
	// chip in [0, 1]; Contrast its standard deviation in [0, 0.5].
	Brightness float64 `json:"brightness"`
	Contrast   float64 `json:"contrast"`
	// Underexposed and Overexposed are the fractions of central face pixels
	// at or below 5 % and at or above 95 % grey.
	Underexposed float64 `json:"underexposed"`
	Overexposed  float64 `json:"overexposed"`
	// InFrame is the fraction of the aligned chip that lies inside the
	// image: below 1, part of the face (or its margin) is cut off by the
	// picture's border, a measurable kind of occlusion.
	InFrame float64 `json:"in_frame"`
}

// landmarkQuality fills the geometric components.
func landmarkQuality(q *Quality, box Box, lm *[68]Point) {
	q.FaceWidth = float64(box[2])
	lx, ly := mean(lm, 36, 42)
	rx, ry := mean(lm, 42, 48)
	q.InterEye = math.Hypot(rx-lx, ry-ly)
	q.Roll = math.Atan2(ry-ly, rx-lx) * 180 / math.Pi

	// Rotate into the eye-line frame so that yaw and pitch do not pick up roll.
	cos, sin := (rx-lx)/q.InterEye, (ry-ly)/q.InterEye
	if q.InterEye == 0 {
		cos, sin = 1, 0
	}
	ex, ey := (lx+rx)/2, (ly+ry)/2
	frame := func(p Point) (float64, float64) {
		dx, dy := float64(p[0])-ex, float64(p[1])-ey
		return cos*dx + sin*dy, -sin*dx + cos*dy
	}
	jl, _ := frame(lm[0])
	jr, _ := frame(lm[16])
	nx, ny := frame(lm[30])
	if span := jr - jl; span > 0 {
		// nose offset from the jaw midpoint, relative to the half span
		r := (2*nx - (jl + jr)) / span
		q.Yaw = math.Asin(math.Max(-1, math.Min(1, r))) * 180 / math.Pi
	}
	mx, my := mean(lm, 48, 68)
	_, mouthY := frame(Point{float32(mx), float32(my)})
	if mouthY > 0 {
		r := ny/mouthY - frontalNoseRatio()
		q.Pitch = math.Asin(math.Max(-1, math.Min(1, 2*r))) * 180 / math.Pi
	}
}

// chipQuality fills the photometric components from an aligned chip.
func chipQuality(q *Quality, chip *image.RGBA) {
	w, h := chip.Rect.Dx(), chip.Rect.Dy()
	if w < 8 || h < 8 {
		return
	}
	gray := make([]float64, w*h)
	for y := 0; y < h; y++ {
		row := chip.Pix[y*chip.Stride:]
		for x := 0; x < w; x++ {
			gray[y*w+x] = 0.299*float64(row[4*x]) + 0.587*float64(row[4*x+1]) + 0.114*float64(row[4*x+2])
		}
	}
	// Central region: the middle half of the chip holds eyes, nose and mouth.
	x0, x1, y0, y1 := w/4, w-w/4, h/4, h-h/4
	var sum, sum2, lap, lap2 float64
	var n, under, over, nl int
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			v := gray[y*w+x]
			sum += v
			sum2 += v * v
			n++
			if v <= 0.05*255 {
				under++
			}
			if v >= 0.95*255 {
				over++
			}
		}
	}
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			l := gray[(y-1)*w+x] + gray[(y+1)*w+x] + gray[y*w+x-1] + gray[y*w+x+1] - 4*gray[y*w+x]
			lap += l
			lap2 += l * l
			nl++
		}
	}
	m := sum / float64(n)
	q.Brightness = m / 255
	q.Contrast = math.Sqrt(math.Max(0, sum2/float64(n)-m*m)) / 255
	q.Underexposed = float64(under) / float64(n)
	q.Overexposed = float64(over) / float64(n)
	lm := lap / float64(nl)
	q.Sharpness = lap2/float64(nl) - lm*lm
}

// frontalNoseRatio is, in dlib's mean face, the nose tip's height below the
// eye line divided by the mouth centre's: the value for a frontal pose.
func frontalNoseRatio() float64 {
	var eye, mouth float64
	for i := 36; i < 48; i++ {
		eye += dlibMeanFace[i-17][1] / 12
	}
	for i := 48; i < 68; i++ {
		mouth += dlibMeanFace[i-17][1] / 20
	}
	return (dlibMeanFace[30-17][1] - eye) / (mouth - eye)
}
