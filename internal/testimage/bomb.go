package testimage

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
)

// PNG16Bomb is a valid w x h 16-bit RGB PNG of black pixels, Adam7
// interlaced when interlaced is set: a few hundred KB that image/png
// decodes into an 8-byte-a-pixel RGBA64 (plus its pass images). The
// pixel data is streamed into zlib, so making one never holds it.
func PNG16Bomb(w, h int, interlaced bool) []byte {
	return pngBomb(w, h, 16, interlaced, 0)
}

// PNG8Bomb is PNG16Bomb at 8 bits, not interlaced, the kind lcnet's PNG
// fast path reads: 108 MB of rows at 6000x6000 in about 130 KB. With
// keepIDAT > 0 its compressed data is cut to that many bytes, so that
// the file declares far more pixels than it holds.
func PNG8Bomb(w, h, keepIDAT int) []byte {
	return pngBomb(w, h, 8, false, keepIDAT)
}

func pngBomb(w, h int, depth byte, interlaced bool, keepIDAT int) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	il := byte(0)
	if interlaced {
		il = 1
	}
	ihdr = append(ihdr, depth, 2, 0, 0, il) // truecolour
	pngChunk(&out, "IHDR", ihdr)

	var idat bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&idat, zlib.BestSpeed)
	type pass struct{ x0, y0, dx, dy int }
	passes := []pass{{0, 0, 1, 1}}
	if interlaced {
		passes = []pass{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
	}
	for _, p := range passes {
		pw, ph := (w-p.x0+p.dx-1)/p.dx, (h-p.y0+p.dy-1)/p.dy
		if pw <= 0 || ph <= 0 {
			continue
		}
		row := make([]byte, 1+3*int(depth)/8*pw) // filter byte 0, black pixels
		for range ph {
			_, _ = zw.Write(row)
		}
	}
	_ = zw.Close()
	data := idat.Bytes()
	if keepIDAT > 0 && keepIDAT < len(data) {
		data = data[:keepIDAT]
	}
	pngChunk(&out, "IDAT", data)
	pngChunk(&out, "IEND", nil)
	return out.Bytes()
}

func pngChunk(out *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	out.Write(n[:])
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	out.WriteString(typ)
	out.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	out.Write(n[:])
}

// TIFF16Bomb is a valid w x h 16-bit RGB TIFF of black pixels in one
// deflate strip: a few hundred KB that x/image/tiff inflates into one
// 6-byte-a-pixel buffer and decodes into an 8-byte-a-pixel RGBA64.
func TIFF16Bomb(w, h int) []byte {
	var strip bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&strip, zlib.BestSpeed)
	row := make([]byte, 6*w)
	for range h {
		_, _ = zw.Write(row)
	}
	_ = zw.Close()

	order := binary.LittleEndian
	type entry struct {
		tag, typ uint16
		count    uint32
		val      uint32
	}
	const short, long = 3, 4
	const nEntries = 10
	bpsOff := uint32(8 + 2 + 12*nEntries + 4)
	stripOff := bpsOff + 6
	entries := []entry{
		{256, long, 1, uint32(w)},
		{257, long, 1, uint32(h)},
		{258, short, 3, bpsOff}, // BitsPerSample 16,16,16 out of line
		{259, short, 1, 8},      // deflate
		{262, short, 1, 2},      // RGB
		{273, long, 1, stripOff},
		{277, short, 1, 3},
		{278, long, 1, uint32(h)}, // one strip
		{279, long, 1, uint32(strip.Len())},
		{284, short, 1, 1},
	}
	out := []byte("II*\x00")
	out = order.AppendUint32(out, 8)
	out = order.AppendUint16(out, nEntries)
	for _, e := range entries {
		out = order.AppendUint16(out, e.tag)
		out = order.AppendUint16(out, e.typ)
		out = order.AppendUint32(out, e.count)
		if e.typ == short && e.count == 1 {
			out = order.AppendUint16(out, uint16(e.val))
			out = order.AppendUint16(out, 0)
		} else {
			out = order.AppendUint32(out, e.val)
		}
	}
	out = order.AppendUint32(out, 0)
	for range 3 {
		out = order.AppendUint16(out, 16)
	}
	return append(out, strip.Bytes()...)
}
