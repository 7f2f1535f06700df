package testimage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/bmp"
)

// Encode writes img in format "jpeg" (quality 95, no EXIF), "png", "gif",
// "bmp" or "tiff" (little-endian, no orientation).
func Encode(format string, img image.Image) ([]byte, error) {
	switch format {
	case "jpeg", "jpg":
		return JPEG(img, 95, nil)
	case "png":
		return PNG(img)
	case "gif":
		return GIF(img)
	case "bmp":
		return BMP(img)
	case "tiff", "tif":
		return TIFF(img, binary.LittleEndian, 0), nil
	}
	return nil, fmt.Errorf("testimage: cannot encode %q (want jpeg, png, gif, bmp or tiff)", format)
}

// EXIF returns a TIFF-structured EXIF block in byte order order whose IFD0
// holds only an Orientation tag of value orientation, as the payload of a
// JPEG APP1 segment after "Exif\0\0".
func EXIF(orientation int, order binary.AppendByteOrder) []byte {
	b := make([]byte, 0, 26)
	b = appendTIFFHeader(b, order)
	b = order.AppendUint16(b, 1)      // one entry
	b = order.AppendUint16(b, 0x0112) // Orientation
	b = order.AppendUint16(b, 3)      // SHORT
	b = order.AppendUint32(b, 1)      // count
	b = order.AppendUint16(b, uint16(orientation))
	b = order.AppendUint16(b, 0)    // value field padding
	return order.AppendUint32(b, 0) // no next IFD
}

func appendTIFFHeader(b []byte, order binary.AppendByteOrder) []byte {
	if order == binary.BigEndian {
		b = append(b, "MM"...)
	} else {
		b = append(b, "II"...)
	}
	b = order.AppendUint16(b, 42)
	return order.AppendUint32(b, 8) // IFD0 right after the header
}

// JPEG encodes img at quality, inserting exif (if not nil) as an APP1
// "Exif" segment right after SOI, where cameras put it.
func JPEG(img image.Image, quality int, exif []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("testimage: encode JPEG: %w", err)
	}
	if exif == nil {
		return buf.Bytes(), nil
	}
	data := buf.Bytes()
	seg := append([]byte("Exif\x00\x00"), exif...)
	if len(seg)+2 > 0xffff {
		return nil, fmt.Errorf("testimage: %d-byte EXIF does not fit one APP1 segment", len(exif))
	}
	out := make([]byte, 0, len(data)+len(seg)+4)
	out = append(out, data[:2]...) // SOI
	out = append(out, 0xff, 0xe1)
	out = binary.BigEndian.AppendUint16(out, uint16(len(seg)+2))
	out = append(out, seg...)
	return append(out, data[2:]...), nil
}

// PNG encodes img losslessly.
func PNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("testimage: encode PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// GIF encodes img mapped to gif.Encode's default Plan 9 palette without dithering, so solid
// areas of palette colours (like Quadrants') come back exactly.
func GIF(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := gif.Encode(&buf, img, &gif.Options{NumColors: 256, Quantizer: nil, Drawer: draw.Src}); err != nil {
		return nil, fmt.Errorf("testimage: encode GIF: %w", err)
	}
	return buf.Bytes(), nil
}

// BMP encodes img as an uncompressed BMP.
func BMP(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := bmp.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("testimage: encode BMP: %w", err)
	}
	return buf.Bytes(), nil
}

// TIFF writes img as an uncompressed 8-bit RGB baseline TIFF in byte order
// order, with an Orientation tag when orientation is 1-8 (x/image/tiff's
// encoder can write neither a big-endian file nor that tag).
func TIFF(img image.Image, order binary.AppendByteOrder, orientation int) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	type entry struct {
		tag, typ uint16
		val      uint32
	}
	const short, long = 3, 4
	var entries []entry
	nEntries := 10
	if orientation >= 1 && orientation <= 8 {
		nEntries++
	}
	bpsOff := uint32(8 + 2 + 12*nEntries + 4)
	pixOff := bpsOff + 6
	entries = append(entries,
		entry{256, long, uint32(w)},
		entry{257, long, uint32(h)},
		entry{258, short, bpsOff}, // BitsPerSample 8,8,8 stored out of line
		entry{259, short, 1},      // no compression
		entry{262, short, 2},      // RGB
		entry{273, long, pixOff},  // StripOffsets
	)
	if orientation >= 1 && orientation <= 8 {
		entries = append(entries, entry{274, short, uint32(orientation)})
	}
	entries = append(entries,
		entry{277, short, 3},                // SamplesPerPixel
		entry{278, long, uint32(h)},         // RowsPerStrip: one strip
		entry{279, long, uint32(3 * w * h)}, // StripByteCounts
		entry{284, short, 1},                // PlanarConfiguration chunky
	)
	out := appendTIFFHeader(make([]byte, 0, int(pixOff)+3*w*h), order)
	out = order.AppendUint16(out, uint16(len(entries)))
	for _, e := range entries {
		out = order.AppendUint16(out, e.tag)
		out = order.AppendUint16(out, e.typ)
		count := uint32(1)
		if e.tag == 258 {
			count = 3
		}
		out = order.AppendUint32(out, count)
		if e.typ == short && count == 1 {
			out = order.AppendUint16(out, uint16(e.val))
			out = order.AppendUint16(out, 0)
		} else {
			out = order.AppendUint32(out, e.val)
		}
	}
	out = order.AppendUint32(out, 0) // no next IFD
	for range 3 {
		out = order.AppendUint16(out, 8)
	}
	for y := range h {
		for x := range w {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			out = append(out, uint8(r>>8), uint8(g>>8), uint8(bl>>8))
		}
	}
	return out
}
