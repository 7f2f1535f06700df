package jpeg

import (
	"fmt"
	"image"
	"image/color"
)

// allocate sizes and allocates the planes (and progressive coefficients)
// after checking them against the budgets, at the first SOS.
func (d *decoder) allocate() error {
	if d.maxPixels > 0 && int64(d.width)*int64(d.height) > d.maxPixels {
		return fmt.Errorf("%w: %dx%d exceeds %d pixels", ErrTooLarge, d.width, d.height, d.maxPixels)
	}
	if d.ncomp == 4 && !d.adobe {
		return UnsupportedError("4-component JPEG without Adobe APP14 segment")
	}
	if d.ncomp == 3 && d.isRGB() && d.subsample != image.YCbCrSubsampleRatio444 {
		return UnsupportedError("subsampled RGB JPEG")
	}
	bs := 8 / d.scale
	ncoef := 64
	if d.scale == 8 {
		ncoef = 1
	}
	var total int64
	for i := 0; i < d.ncomp; i++ {
		c := &d.comp[i]
		total += int64(c.bw*bs) * int64(c.bh*bs)
		if d.progressive {
			total += int64(c.bw) * int64(c.bh) * int64(ncoef) * 2
			if ncoef == 64 {
				total += int64(c.bw) * int64(c.bh) * 8
			}
		}
	}
	w, h := d.outSize()
	if d.ncomp == 4 || d.ncomp == 3 && d.isRGB() {
		total += int64(w) * int64(h) * 4
	}
	if d.pipelined = d.wantPipeline(total); d.pipelined {
		total += d.pipelineBytes()
	}
	d.splitting = d.parallel && !d.progressive && int64(d.width)*int64(d.height) >= d.splitMin
	if d.splitAt == 0 {
		d.splitAt = splitAtIndex
		if d.scale == 8 {
			d.splitAt = splitAtDC
		}
	}
	d.spare = d.maxBytes - total
	if d.wantSched(d.spare) {
		d.sched = &scanSched{limit: d.schedTables}
		if d.maxBytes > 0 {
			d.spare -= int64(d.schedTables) * huffTableSize
		}
	}
	if d.maxBytes > 0 && total > d.maxBytes {
		return fmt.Errorf("%w: %dx%d at scale 1/%d needs %d bytes, budget %d",
			ErrTooLarge, d.width, d.height, d.scale, total, d.maxBytes)
	}
	for i := 0; i < d.ncomp; i++ {
		c := &d.comp[i]
		c.stride = c.bw * bs
		c.pix = make([]byte, c.stride*c.bh*bs)
		if d.progressive {
			c.ncoef = ncoef
			c.coef = make([]int16, c.bw*c.bh*ncoef)
			if ncoef == 64 {
				c.nz = make([]uint64, c.bw*c.bh)
			}
		}
	}
	if d.needRows != nil {
		d.buildMasks()
	}
	d.allocated = true
	return nil
}

func (d *decoder) outSize() (int, int) {
	return (d.width + d.scale - 1) / d.scale, (d.height + d.scale - 1) / d.scale
}

func (d *decoder) output() (image.Image, error) {
	if d.progressive {
		if err := d.finishProgressive(); err != nil {
			return nil, err
		}
	}
	w, h := d.outSize()
	rect := image.Rect(0, 0, w, h)
	c := &d.comp
	switch d.ncomp {
	case 1:
		return &image.Gray{Pix: c[0].pix, Stride: c[0].stride, Rect: rect}, nil
	case 3:
		if d.isRGB() {
			img := image.NewRGBA(rect)
			for y := 0; y < h; y++ {
				r := c[0].pix[y*c[0].stride:]
				g := c[1].pix[y*c[1].stride:]
				b := c[2].pix[y*c[2].stride:]
				o := img.Pix[y*img.Stride : y*img.Stride+4*w]
				for x := 0; x < w; x++ {
					o[4*x], o[4*x+1], o[4*x+2], o[4*x+3] = r[x], g[x], b[x], 255
				}
			}
			return img, nil
		}
		return &image.YCbCr{
			Y: c[0].pix, Cb: c[1].pix, Cr: c[2].pix,
			YStride: c[0].stride, CStride: c[1].stride,
			SubsampleRatio: d.subsample, Rect: rect,
		}, nil
	}
	return d.cmyk(rect), nil
}

// cmyk interleaves four planes as image/jpeg does: Adobe transform 0 means
// inverted CMYK (255 is no ink), any other transform means YCCK, whose
// YCbCr part converts to RGB and stands for CMY, with K inverted. The
// middle two planes may be subsampled 2x2 (checkSampling).
func (d *decoder) cmyk(rect image.Rectangle) *image.CMYK {
	img := image.NewCMYK(rect)
	c := &d.comp
	w, h := rect.Dx(), rect.Dy()
	sub := 0
	if c[0].h == 2 {
		sub = 1
	}
	for y := 0; y < h; y++ {
		p0 := c[0].pix[y*c[0].stride:]
		p1 := c[1].pix[(y>>sub)*c[1].stride:]
		p2 := c[2].pix[(y>>sub)*c[2].stride:]
		p3 := c[3].pix[y*c[3].stride:]
		o := img.Pix[y*img.Stride : y*img.Stride+4*w]
		if d.adobeTransform == 0 {
			for x := 0; x < w; x++ {
				o[4*x] = 255 - p0[x]
				o[4*x+1] = 255 - p1[x>>sub]
				o[4*x+2] = 255 - p2[x>>sub]
				o[4*x+3] = 255 - p3[x]
			}
			continue
		}
		for x := 0; x < w; x++ {
			r, g, b := color.YCbCrToRGB(p0[x], p1[x>>sub], p2[x>>sub])
			o[4*x], o[4*x+1], o[4*x+2], o[4*x+3] = r, g, b, 255-p3[x]
		}
	}
	return img
}
