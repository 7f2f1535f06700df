package imaging

import (
	"bytes"
	"encoding/binary"
	"image/color"
	"math"
)

// DecodeCost estimates, from the header alone, the peak bytes Decode
// allocates for data: the decoder's in-memory image type (a 16-bit PNG is
// an RGBA64 or NRGBA64 at 8 bytes a pixel, whatever it compresses to) plus
// its working buffers (the pass images of an interlaced PNG, a TIFF
// block's inflated bytes in a growing buffer, a progressive JPEG's
// coefficients, a lossless WebP's ARGB plane). It errs on the high side,
// so a server can budget decoded bytes rather than pixels: two files of
// one pixel count can differ eightfold in what decoding them takes.
// Its errors are Decode's for the same header (ErrUnsupported, ErrCorrupt).
func DecodeCost(data []byte) (int64, error) {
	name, w, h, err := decodeConfig(bytes.NewReader(data), data)
	if err != nil {
		return 0, err
	}
	px := int64(w) * int64(h)
	var cost float64
	switch name {
	case "png":
		cost = pngCost(data, w, h)
	case "jpeg":
		cost = jpegCost(data, px)
	case "gif":
		// One paletted frame (frames must lie inside the logical screen)
		// and the LZW reader's tables.
		cost = float64(px) + 64<<10
	case "bmp":
		cost = 4 * float64(px)
		if _, pal := configModel(data, "bmp").(color.Palette); pal {
			cost = float64(px)
		}
	case "webp":
		cost = webpCost(data, px)
	case "tiff":
		cost = tiffCost(data, w, h)
	}
	// Decoder state (Huffman and LZW tables, readers) on top.
	cost += 64 << 10
	if cost > math.MaxInt64/2 {
		return math.MaxInt64 / 2, nil
	}
	return int64(cost), nil
}

func configModel(data []byte, name string) color.Model {
	f, _ := sniff(data)
	if f.name != name {
		return nil
	}
	cfg, err := f.config(bytes.NewReader(data))
	if err != nil {
		return nil
	}
	return cfg.ColorModel
}

// bytesPerPixel is the size of a pixel of the image type a decoder
// returns for model.
func bytesPerPixel(model color.Model) float64 {
	switch model.(type) {
	case color.Palette:
		return 1
	}
	switch model {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	return 4
}

// pngCost follows image/png: the image of the full size, and for Adam7
// each pass as an image of its own before it is merged (together as large
// as the image again, and garbage only once merged), plus two rows.
func pngCost(data []byte, w, h int) float64 {
	px := float64(w) * float64(h)
	img := bytesPerPixel(configModel(data, "png")) * px
	// IHDR: signature 8, length 4, type 4, then width 4, height 4, bit
	// depth, colour type, compression, filter, interlace.
	depth, interlaced := 8, false
	if len(data) >= 29 {
		depth, interlaced = int(data[24]), data[28] == 1
	}
	rows := 2 * float64(1+8*w*max(depth, 8)/8)
	if interlaced {
		img *= 2
	}
	return img + rows
}

// jpegCost follows image/jpeg: component planes at full resolution (the
// 4:4:4 worst case), a CMYK copy for four-component files, and for
// progressive files every block's coefficients as int32s.
func jpegCost(data []byte, px int64) float64 {
	n, progressive := jpegFrame(data)
	cost := float64(n) * float64(px)
	if n == 4 {
		cost += 4 * float64(px)
	}
	if progressive {
		cost += 4 * float64(n) * float64(px)
	}
	return cost
}

// jpegFrame walks the markers up to the first SOF and reports its
// component count and whether it is progressive (SOF2, 6, 10, 14). A file
// the walk cannot follow counts as progressive with four components.
func jpegFrame(b []byte) (components int, progressive bool) {
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xff {
			return 4, true
		}
		m := b[i+1]
		if m == 0xff { // fill byte
			i++
			continue
		}
		if m == 0xd8 || (m >= 0xd0 && m <= 0xd7) || m == 0x01 {
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc {
			if i+9 < len(b) {
				components = int(b[i+9])
			}
			return max(components, 1), m == 0xc2 || m == 0xc6 || m == 0xca || m == 0xce
		}
		if m == 0xda || n < 2 {
			break
		}
		i += 2 + n
	}
	return 4, true
}

// webpCost: a lossy frame is 4:2:0 YCbCr (1.5 B/px); a lossless one is
// decoded into NRGBA with an ARGB working plane; an extended file (VP8X)
// may be either, with an alpha plane, and is counted as lossless.
func webpCost(data []byte, px int64) float64 {
	if len(data) >= 16 && string(data[12:16]) == "VP8 " {
		return 1.5 * float64(px)
	}
	return 8 * float64(px)
}

// tiffCost follows x/image/tiff: the image, and one block (strip or tile)
// at a time read into a buffer that grows by doubling, so a block of n
// bytes may hold 3n at the moment the buffer last grows.
func tiffCost(data []byte, w, h int) float64 {
	img := bytesPerPixel(configModel(data, "tiff")) * float64(w) * float64(h)
	t := tiffTags(data)
	bw, bh := w, h
	if tw, th := t[tiffTileWidth], t[tiffTileLength]; tw > 0 && th > 0 {
		bw, bh = int(tw), int(th)
	} else if rps := t[tiffRowsPerStrip]; rps > 0 && int64(rps) < int64(h) {
		bh = int(rps)
	}
	spp, bps := max(t[tiffSamplesPerPixel], 1), max(t[tiffBitsPerSample], 1)
	block := float64(bw) * float64(bh) * float64(spp) * float64(bps) / 8
	return img + 3*block
}

const (
	tiffBitsPerSample   = 258
	tiffSamplesPerPixel = 277
	tiffRowsPerStrip    = 278
	tiffTileWidth       = 322
	tiffTileLength      = 323
)

// tiffTags reads the first value of the IFD0 tags tiffCost needs;
// missing or malformed ones are absent from the map. Its cost is bounded
// by the 65535 entries an IFD can declare.
func tiffTags(b []byte) map[uint16]uint32 {
	out := map[uint16]uint32{}
	if len(b) < 8 {
		return out
	}
	var order binary.ByteOrder = binary.LittleEndian
	if b[0] == 'M' {
		order = binary.BigEndian
	}
	off := int64(order.Uint32(b[4:]))
	if off < 8 || off+2 > int64(len(b)) {
		return out
	}
	n := int64(order.Uint16(b[off:]))
	for i := range n {
		e := off + 2 + 12*i
		if e+12 > int64(len(b)) {
			break
		}
		tag, typ := order.Uint16(b[e:]), order.Uint16(b[e+2:])
		switch tag {
		case tiffBitsPerSample, tiffSamplesPerPixel, tiffRowsPerStrip, tiffTileWidth, tiffTileLength:
		default:
			continue
		}
		count := order.Uint32(b[e+4:])
		val := b[e+8 : e+12]
		if tag == tiffBitsPerSample && count > 1 {
			// Several SHORTs do not fit the value field; they sit at an
			// offset. The decoder requires them equal, so the first does.
			if typ != 3 {
				continue
			}
			if count > 2 {
				p := int64(order.Uint32(val))
				if p < 0 || p+2 > int64(len(b)) {
					continue
				}
				val = b[p : p+2]
			}
		}
		switch typ {
		case 3:
			out[tag] = uint32(order.Uint16(val))
		case 4:
			out[tag] = order.Uint32(val)
		}
	}
	return out
}
