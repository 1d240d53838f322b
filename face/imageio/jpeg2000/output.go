package jpeg2000

import (
	"image"
	"image/color"
)

// mapChannels turns the components into the channels of a JP2 palette
// (pclr + cmap): d.siz.comps then describe channels, and so do d.planes if
// withPlanes. Without a palette it does nothing.
func (d *decoder) mapChannels(info jp2Info, withPlanes bool) error {
	if info.cmap == nil {
		return nil
	}
	pal := info.pal
	n := len(info.cmap)
	comps := make([]compSiz, n)
	var planes [][]uint16
	var pw, ph []int
	var irrev []bool
	if withPlanes {
		planes, pw, ph, irrev = make([][]uint16, n), make([]int, n), make([]int, n), make([]bool, n)
	}
	for i, e := range info.cmap {
		src := d.siz.comps[e.comp]
		comps[i] = src
		if withPlanes {
			planes[i], pw[i], ph[i], irrev[i] = d.planes[e.comp], d.pw[e.comp], d.ph[e.comp], d.irrev[e.comp]
		}
		if !e.viaPal {
			continue
		}
		if src.signed {
			return formatErr("signed palette indices")
		}
		comps[i].prec, comps[i].signed = pal.prec[e.palette], pal.signed[e.palette]
		if withPlanes {
			col := pal.values[e.palette]
			p := make([]uint16, len(planes[i]))
			for k, v := range planes[i] {
				p[k] = col[min(int(v), pal.entries-1)]
			}
			planes[i] = p
		}
	}
	d.siz.comps = comps
	if withPlanes {
		d.planes, d.pw, d.ph, d.irrev = planes, pw, ph, irrev
	}
	return nil
}

// maxPrec is the largest component precision, which picks 8 or 16 bits.
func (d *decoder) maxPrec() int {
	p := 0
	for _, c := range d.siz.comps {
		p = max(p, c.prec)
	}
	return p
}

func (d *decoder) config() image.Config {
	w, h := int(d.siz.x1-d.siz.x0), int(d.siz.y1-d.siz.y0)
	wide := d.maxPrec() > 8
	var m color.Model
	switch len(d.siz.comps) {
	case 1:
		m = color.GrayModel
		if wide {
			m = color.Gray16Model
		}
	case 3:
		m = color.RGBAModel
		if wide {
			m = color.RGBA64Model
		}
	default: // 2 (grey + alpha) or 4 (RGB + alpha)
		m = color.NRGBAModel
		if wide {
			m = color.NRGBA64Model
		}
	}
	return image.Config{ColorModel: m, Width: w, Height: h}
}

// sampler reads component c at image pixel (x, y), scaled to bits (8 or
// 16), upsampling subsampled components by replication.
type sampler struct {
	plane      []uint16
	pw, ph     int
	maxIn      uint32
	maxOut     uint32
	identity   bool
	rowOffsets []int
	colIndex   []int
}

func (d *decoder) sampler(c, bits int) *sampler {
	cs := d.siz.comps[c]
	s := &sampler{
		plane: d.planes[c], pw: d.pw[c], ph: d.ph[c],
		maxIn: 1<<cs.prec - 1, maxOut: 1<<bits - 1,
	}
	s.identity = s.maxIn == s.maxOut
	w, h := int(d.siz.x1-d.siz.x0), int(d.siz.y1-d.siz.y0)
	dx, dy := int64(cs.dx), int64(cs.dy)
	px0 := ceilDiv(int64(d.siz.x0), dx)
	py0 := ceilDiv(int64(d.siz.y0), dy)
	s.colIndex = make([]int, w)
	for x := range s.colIndex {
		s.colIndex[x] = int(min64(max64((int64(d.siz.x0)+int64(x))/dx-px0, 0), int64(s.pw-1)))
	}
	s.rowOffsets = make([]int, h)
	for y := range s.rowOffsets {
		s.rowOffsets[y] = int(min64(max64((int64(d.siz.y0)+int64(y))/dy-py0, 0), int64(s.ph-1))) * s.pw
	}
	return s
}

func (s *sampler) at(x, y int) uint32 {
	v := uint32(s.plane[s.rowOffsets[y]+s.colIndex[x]])
	if s.identity {
		return v
	}
	return (v*s.maxOut + s.maxIn/2) / s.maxIn
}

// image assembles the output image from the component planes.
func (d *decoder) image(info jp2Info) (image.Image, error) {
	cfg := d.config()
	w, h := cfg.Width, cfg.Height
	nc := len(d.siz.comps)
	bits := 8
	if d.maxPrec() > 8 {
		bits = 16
	}
	ss := make([]*sampler, nc)
	for c := range ss {
		src := c
		if info.order != nil {
			src = info.order[c]
		}
		ss[c] = d.sampler(src, bits)
	}
	sycc := info.colorspace == csSYCC && nc >= 3
	var px [4]uint32
	get := func(x, y int) [4]uint32 {
		for c := range ss {
			px[c] = ss[c].at(x, y)
		}
		if sycc {
			px[0], px[1], px[2] = syccToRGB(px[0], px[1], px[2], bits)
		}
		return px
	}
	r := image.Rect(0, 0, w, h)
	if img := d.fastImage(r, ss, sycc); img != nil {
		return img, nil
	}
	switch cfg.ColorModel {
	case color.GrayModel:
		img := image.NewGray(r)
		for y := 0; y < h; y++ {
			row := img.Pix[y*img.Stride:]
			for x := 0; x < w; x++ {
				row[x] = uint8(ss[0].at(x, y))
			}
		}
		return img, nil
	case color.Gray16Model:
		img := image.NewGray16(r)
		for y := 0; y < h; y++ {
			row := img.Pix[y*img.Stride:]
			for x := 0; x < w; x++ {
				v := ss[0].at(x, y)
				row[2*x], row[2*x+1] = uint8(v>>8), uint8(v)
			}
		}
		return img, nil
	case color.RGBAModel:
		img := image.NewRGBA(r)
		for y := 0; y < h; y++ {
			row := img.Pix[y*img.Stride:]
			for x := 0; x < w; x++ {
				p := get(x, y)
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = uint8(p[0]), uint8(p[1]), uint8(p[2]), 0xFF
			}
		}
		return img, nil
	case color.RGBA64Model:
		img := image.NewRGBA64(r)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				p := get(x, y)
				img.SetRGBA64(x, y, color.RGBA64{uint16(p[0]), uint16(p[1]), uint16(p[2]), 0xFFFF})
			}
		}
		return img, nil
	case color.NRGBAModel:
		img := image.NewNRGBA(r)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				p := get(x, y)
				if nc == 2 {
					p = [4]uint32{p[0], p[0], p[0], p[1]}
				}
				img.SetNRGBA(x, y, color.NRGBA{uint8(p[0]), uint8(p[1]), uint8(p[2]), uint8(p[3])})
			}
		}
		return img, nil
	default:
		img := image.NewNRGBA64(r)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				p := get(x, y)
				if nc == 2 {
					p = [4]uint32{p[0], p[0], p[0], p[1]}
				}
				img.SetNRGBA64(x, y, color.NRGBA64{uint16(p[0]), uint16(p[1]), uint16(p[2]), uint16(p[3])})
			}
		}
		return img, nil
	}
}

// syccToRGB converts a JP2 sYCC sample (IEC 61966-2-1 Amd 1) to RGB.
func syccToRGB(y, cb, cr uint32, bits int) (uint32, uint32, uint32) {
	maxv := float64(uint32(1)<<bits - 1)
	off := float64(uint32(1) << (bits - 1))
	fy, fb, fr := float64(y), float64(cb)-off, float64(cr)-off
	clamp := func(v float64) uint32 {
		v += 0.5
		if v < 0 {
			return 0
		}
		if v > maxv {
			return uint32(maxv)
		}
		return uint32(v)
	}
	return clamp(fy + 1.402*fr), clamp(fy - 0.344136*fb - 0.714136*fr), clamp(fy + 1.772*fb)
}

// fastImage handles the usual chip photo, 8-bit grey or RGB without
// subsampling, by copying planes directly; it returns nil otherwise.
func (d *decoder) fastImage(r image.Rectangle, ss []*sampler, sycc bool) image.Image {
	nc := len(ss)
	if sycc || (nc != 1 && nc != 3) {
		return nil
	}
	for c, s := range ss {
		if !s.identity || s.maxOut != 0xFF || s.pw != r.Dx() || s.ph != r.Dy() || d.siz.comps[c].dx != 1 || d.siz.comps[c].dy != 1 {
			return nil
		}
	}
	w, h := r.Dx(), r.Dy()
	if nc == 1 {
		img := image.NewGray(r)
		p := ss[0].plane
		for i := range p[:w*h] {
			img.Pix[i] = uint8(p[i])
		}
		return img
	}
	img := image.NewRGBA(r)
	p0, p1, p2 := ss[0].plane[:w*h], ss[1].plane[:w*h], ss[2].plane[:w*h]
	pix := img.Pix[:4*w*h]
	for i := range p0 {
		q := pix[4*i : 4*i+4 : 4*i+4]
		q[0], q[1], q[2], q[3] = uint8(p0[i]), uint8(p1[i]), uint8(p2[i]), 0xFF
	}
	return img
}
