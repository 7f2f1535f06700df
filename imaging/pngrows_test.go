package imaging

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/testimage"
)

// pngChunks splits a PNG into its chunks (type and body); pngJoin puts
// them back with fresh checksums.
type pngChunkT struct {
	typ  string
	body []byte
}

func pngChunks(t testing.TB, data []byte) []pngChunkT {
	t.Helper()
	var out []pngChunkT
	for rest := data[8:]; len(rest) >= 12; {
		n := binary.BigEndian.Uint32(rest)
		out = append(out, pngChunkT{string(rest[4:8]), rest[8 : 8+n]})
		rest = rest[12+n:]
	}
	return out
}

func pngJoin(chunks []pngChunkT) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	for _, c := range chunks {
		b = binary.BigEndian.AppendUint32(b, uint32(len(c.body)))
		start := len(b)
		b = append(append(b, c.typ...), c.body...)
		b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
	}
	return b
}

// pngEdit re-encodes img and lets edit rearrange the chunks.
func pngEdit(t testing.TB, img image.Image, level png.CompressionLevel, edit func([]pngChunkT) []pngChunkT) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: level}).Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if edit == nil {
		return buf.Bytes()
	}
	return pngJoin(edit(pngChunks(t, buf.Bytes())))
}

// splitIDAT cuts the IDAT run into chunks of at most n bytes, with an
// ancillary chunk before and after it.
func splitIDAT(n int) func([]pngChunkT) []pngChunkT {
	return func(cs []pngChunkT) []pngChunkT {
		var out []pngChunkT
		for _, c := range cs {
			switch c.typ {
			case "IDAT":
				out = append(out, pngChunkT{"tEXt", []byte("Comment\x00before")})
				for b := c.body; len(b) > 0; b = b[min(n, len(b)):] {
					out = append(out, pngChunkT{"IDAT", b[:min(n, len(b))]})
				}
				out = append(out, pngChunkT{"tIME", []byte{7, 234, 12, 3, 10, 0, 0}})
			default:
				out = append(out, c)
			}
		}
		return out
	}
}

func mapChunk(typ string, f func([]byte) []byte) func([]pngChunkT) []pngChunkT {
	return func(cs []pngChunkT) []pngChunkT {
		out := slices.Clone(cs)
		for i, c := range out {
			if c.typ == typ {
				out[i].body = f(slices.Clone(c.body))
			}
		}
		return out
	}
}

func insertBefore(typ string, c pngChunkT) func([]pngChunkT) []pngChunkT {
	return func(cs []pngChunkT) []pngChunkT {
		i := slices.IndexFunc(cs, func(x pngChunkT) bool { return x.typ == typ })
		return slices.Insert(slices.Clone(cs), i, c)
	}
}

// pngTestImages are the colour types of the fast path and some it leaves
// to image/png, with content that makes the encoder use every filter.
func pngTestImages() map[string]image.Image {
	photo := testimage.Photo(67, 41)
	gray := image.NewGray(photo.Bounds())
	nrgba := image.NewNRGBA(photo.Bounds())
	gray16 := image.NewGray16(photo.Bounds())
	pal := image.NewPaletted(photo.Bounds(), color.Palette{color.Black, color.White, color.RGBA{200, 10, 10, 255}})
	for y := range 41 {
		for x := range 67 {
			c := photo.RGBAAt(x, y)
			gray.SetGray(x, y, color.Gray{c.G})
			nrgba.SetNRGBA(x, y, color.NRGBA{c.R, c.G, c.B, uint8(x * 255 / 66)})
			gray16.SetGray16(x, y, color.Gray16{uint16(c.G) * 257})
			pal.SetColorIndex(x, y, uint8((x+y)%3))
		}
	}
	return map[string]image.Image{
		"rgb": photo, "gray": gray, "rgba": nrgba, "gray16": gray16, "paletted": pal,
		"textline": testimage.TextLine(320, 48, "Invoice total: 1,234.56 EUR"),
	}
}

// TestFastPNGMatchesDecode: the fast path gives exactly the tensor of
// Decode then Preprocess, and takes only the files it should.
func TestFastPNGMatchesDecode(t *testing.T) {
	imgs := pngTestImages()
	bad := func(b []byte) []byte { b[len(b)/2] ^= 0x55; return b }
	for _, tc := range []struct {
		name   string
		img    string
		level  png.CompressionLevel
		edit   func([]pngChunkT) []pngChunkT
		fast   bool // the fast path takes it
		decode bool // image/png decodes it
	}{
		{"rgb", "rgb", png.DefaultCompression, nil, true, true},
		{"rgb stored", "rgb", png.NoCompression, nil, true, true},
		{"rgb best speed", "rgb", png.BestSpeed, nil, true, true},
		{"gray", "gray", png.DefaultCompression, nil, true, true},
		{"rgba", "rgba", png.BestCompression, nil, true, true},
		{"text line", "textline", png.DefaultCompression, nil, true, true},
		{"split IDAT, ancillary chunks", "rgb", png.DefaultCompression, splitIDAT(100), true, true},
		{"gray+alpha", "ga", png.DefaultCompression, nil, true, true},
		{"16-bit", "gray16", png.DefaultCompression, nil, false, true},
		{"paletted", "paletted", png.DefaultCompression, nil, false, true},
		{"tRNS", "rgb", png.DefaultCompression, insertBefore("IDAT", pngChunkT{"tRNS", []byte{0, 1, 0, 2, 0, 3}}), false, true},
		{"corrupt IDAT", "rgb", png.DefaultCompression, mapChunk("IDAT", bad), false, false},
		{"bad filter type", "gray", png.NoCompression, mapChunk("IDAT", func(b []byte) []byte {
			b[2+5] = 9 // a stored block's header is 5 bytes after zlib's 2: then row 0's filter byte
			return b
		}), false, false},
		// image/png's inflater reads ahead, so it takes trailing bytes
		// that arrive in its buffer; the fast path leaves them to it.
		{"bytes after the zlib stream", "rgb", png.DefaultCompression, mapChunk("IDAT", func(b []byte) []byte { return append(b, 1, 2, 3) }), false, true},
		{"bad Adler-32", "rgb", png.DefaultCompression, mapChunk("IDAT", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), false, false},
		{"zlib dictionary flag", "rgb", png.DefaultCompression, mapChunk("IDAT", func(b []byte) []byte {
			b[1] = (b[1] | 0x20) &^ 0x1f
			b[1] += byte(31 - (int(b[0])<<8|int(b[1]))%31) // keep the check bits right
			return b
		}), false, false},
		{"no IEND", "rgb", png.DefaultCompression, func(cs []pngChunkT) []pngChunkT { return cs[:len(cs)-1] }, false, false},
		{"IHDR twice", "rgb", png.DefaultCompression, insertBefore("IEND", pngChunkT{"IHDR", make([]byte, 13)}), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var img image.Image
			if tc.img == "ga" {
				// image/png writes no gray+alpha; set the colour type of a
				// gray+alpha stream by hand: the RGBA image's G and A.
				src := imgs["rgba"].(*image.NRGBA)
				b := src.Bounds()
				var raw []byte
				for y := range b.Dy() {
					raw = append(raw, 0)
					for x := range b.Dx() {
						c := src.NRGBAAt(x, y)
						raw = append(raw, c.G, c.A)
					}
				}
				var z bytes.Buffer
				zw := zlib.NewWriter(&z)
				_, _ = zw.Write(raw)
				_ = zw.Close()
				hdr := make([]byte, 13)
				binary.BigEndian.PutUint32(hdr, uint32(b.Dx()))
				binary.BigEndian.PutUint32(hdr[4:], uint32(b.Dy()))
				hdr[8], hdr[9] = 8, 4
				data := pngJoin([]pngChunkT{{"IHDR", hdr}, {"IDAT", z.Bytes()}, {"IEND", nil}})
				checkFastPNG(t, data, true, true)
				return
			}
			img = imgs[tc.img]
			checkFastPNG(t, pngEdit(t, img, tc.level, tc.edit), tc.fast, tc.decode)
		})
	}
}

func checkFastPNG(t *testing.T, data []byte, fast, decodes bool) {
	t.Helper()
	for _, p := range []arch.Preprocess{
		{ResizeWidth: 160, ResizeHeight: 80, Std: [3]float64{0.229, 0.224, 0.225}, Mean: [3]float64{0.485, 0.456, 0.406}},
		{ResizeShort: 30, CropWidth: 24, CropHeight: 24, ChannelOrder: "BGR", Std: [3]float64{1, 1, 1}},
		{ResizeWidth: 50, ResizeHeight: 20, Interpolation: "nearest", Std: [3]float64{1, 1, 1}},
	} {
		pp, err := NewPreprocessor(p)
		if err != nil {
			t.Fatal(err)
		}
		got, gh, gw, ok := pp.fastPNG(context.Background(), data, 0, nil)
		if ok != fast {
			t.Fatalf("fast path took it: %v, want %v", ok, fast)
		}
		img, err := Decode(data, 0)
		if (err == nil) != decodes {
			t.Fatalf("Decode: %v, want success %v", err, decodes)
		}
		viaEncoded, eh, ew, encErr := pp.PreprocessEncoded(context.Background(), data, DecodeOptions{}, nil)
		if err != nil {
			if encErr == nil || encErr.Error() != err.Error() {
				t.Fatalf("PreprocessEncoded: %v, want Decode's %v", encErr, err)
			}
			continue
		}
		want, wh, ww, err := pp.Preprocess(img, nil)
		if err != nil {
			t.Fatal(err)
		}
		if encErr != nil || eh != wh || ew != ww || !slices.Equal(viaEncoded, want) {
			t.Fatalf("PreprocessEncoded (%v, %dx%d) differs from Decode then Preprocess (%dx%d)", encErr, ew, eh, ww, wh)
		}
		if fast && (gh != wh || gw != ww || !slices.Equal(got, want)) {
			t.Fatalf("fast path %dx%d differs from Decode then Preprocess %dx%d", gw, gh, ww, wh)
		}
	}
}

// TestFastPNGMemory: the fast path allocates neither the image nor
// anything per row, only the small per-call state, once warm.
func TestFastPNGMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops buffers at random")
	}
	data := pngEdit(t, testimage.TextLine(320, 48, "Invoice total: 1,234.56 EUR"), png.DefaultCompression, nil)
	pp, err := NewPreprocessor(arch.Preprocess{ResizeWidth: 160, ResizeHeight: 80, Std: [3]float64{1, 1, 1}})
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, 3*80*160)
	if _, _, _, ok := pp.fastPNG(context.Background(), data, 0, dst); !ok {
		t.Fatal("the fast path refused a plain RGB PNG")
	}
	// image/png's decode alone allocates the 320x48 RGBA: 61 KB.
	if n := testing.AllocsPerRun(20, func() { pp.fastPNG(context.Background(), data, 0, dst) }); n > 30 {
		t.Errorf("%.0f allocations per call", n)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 20 {
		pp.fastPNG(context.Background(), data, 0, dst)
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 20; per > 8<<10 {
		t.Errorf("%d bytes allocated per call, want under 8 KiB (the image alone is 61 KB)", per)
	}
}

// TestFastPNGCancel: a cancelled context stops the fast path and
// PreprocessEncoded reports it.
func TestFastPNGCancel(t *testing.T) {
	data := pngEdit(t, testimage.Photo(64, 64), png.DefaultCompression, nil)
	pp, err := NewPreprocessor(arch.DefaultPreprocess())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := pp.PreprocessEncoded(ctx, data, DecodeOptions{}, nil); err != context.Canceled {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// FuzzFastPNG: whatever the fast path takes, image/png decodes, and
// preprocessing its image gives the same tensor.
func FuzzFastPNG(f *testing.F) {
	for _, img := range pngTestImages() {
		small := image.Image(img)
		if b := img.Bounds(); b.Dx() > 64 {
			small = testimage.Quadrants(9, 7)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, small); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add(pngEdit(f, testimage.Quadrants(9, 7), png.NoCompression, splitIDAT(7)))
	pp, err := NewPreprocessor(arch.Preprocess{ResizeWidth: 12, ResizeHeight: 8, Std: [3]float64{1, 1, 1}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gh, gw, ok := pp.fastPNG(context.Background(), data, fuzzMaxPixels, nil)
		if !ok {
			return
		}
		img, err := Decode(data, fuzzMaxPixels)
		if err != nil {
			t.Fatalf("fast path took a file Decode refuses: %v", err)
		}
		want, wh, ww, err := pp.Preprocess(img, nil)
		if err != nil {
			t.Fatal(err)
		}
		if gh != wh || gw != ww || !slices.Equal(got, want) {
			t.Fatal("fast path differs from Decode then Preprocess")
		}
	})
}

// TestAxesReuse: a Preprocessor whose scratch last served another size
// or orientation gives the tensor of a fresh one.
func TestAxesReuse(t *testing.T) {
	p := arch.Preprocess{ResizeShort: 20, CropWidth: 16, CropHeight: 16, Std: [3]float64{1, 1, 1}}
	shared, err := NewPreprocessor(p)
	if err != nil {
		t.Fatal(err)
	}
	var imgs []image.Image
	for _, sz := range [][2]int{{40, 30}, {30, 40}, {40, 30}, {41, 30}} {
		imgs = append(imgs, testimage.Photo(sz[0], sz[1]))
	}
	imgs = append(imgs, Orient(imgs[0], 6), imgs[0], Orient(imgs[0], 3))
	for i, img := range imgs {
		fresh, err := NewPreprocessor(p)
		if err != nil {
			t.Fatal(err)
		}
		want, _, _, err := fresh.Preprocess(img, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _, _, err := shared.Preprocess(img, nil)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("image %d (%v): a reused scratch gives another tensor (%v)", i, img.Bounds(), err)
		}
	}
}

// paethRef is the PNG specification's Paeth unfiltering, byte by byte.
func paethRef(cdat, pdat []byte, bpp int) {
	for i := range cdat {
		var a, c int
		if i >= bpp {
			a, c = int(cdat[i-bpp]), int(pdat[i-bpp])
		}
		cdat[i] += uint8(paethSpec(a, int(pdat[i]), c))
	}
}

// paethSpec is the specification's predictor.
func paethSpec(a, b, c int) int {
	p := a + b - c
	pa, pb, pc := absInt(p-a), absInt(p-b), absInt(p-c)
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

// TestPaethPick checks the predictor against the specification's on
// every triple of bytes.
func TestPaethPick(t *testing.T) {
	for a := range 256 {
		for b := range 256 {
			for c := range 256 {
				if got, want := paethPick(a, b, c), paethSpec(a, b, c); got != want {
					t.Fatalf("paethPick(%d, %d, %d) = %d, want %d", a, b, c, got, want)
				}
			}
		}
	}
}

// TestPaethFilter compares paethFilter with the specification for every
// pixel size, over rows of random bytes and of few values (where ties
// between the predictors are common), from empty to wider than a cache
// line.
func TestPaethFilter(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for bpp := 1; bpp <= 4; bpp++ {
		for _, pixels := range []int{0, 1, 2, 3, 5, 8, 13, 320} {
			n := pixels * bpp
			for _, levels := range []int{256, 3} {
				cur, prev := make([]byte, n), make([]byte, n)
				for i := range n {
					cur[i], prev[i] = byte(rng.IntN(levels)*85), byte(rng.IntN(levels)*85)
				}
				want := slices.Clone(cur)
				paethRef(want, prev, bpp)
				got := slices.Clone(cur)
				paethFilter(got, prev, bpp)
				if !slices.Equal(got, want) {
					t.Errorf("bpp %d, %d bytes, %d levels: got %v, want %v", bpp, n, levels, got, want)
				}
			}
		}
	}
}

// BenchmarkPaethFilter unfilters one RGB row of the text line's width.
func BenchmarkPaethFilter(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	cur, prev := make([]byte, 960), make([]byte, 960)
	for i := range cur {
		cur[i], prev[i] = byte(rng.IntN(256)), byte(rng.IntN(256))
	}
	for b.Loop() {
		paethFilter(cur, prev, 3)
	}
}

// TestSpanRow compares spanRow with and without AVX2, and with the
// column list, for RGB and RGBA rows of every width up to 40 pixels,
// from the row's start and from a later column.
func TestSpanRow(t *testing.T) {
	if !hasWide() {
		t.Skip("no AVX2: spanRow runs the scalar loop only")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for bpp := 3; bpp <= 4; bpp++ {
		for w := 1; w <= 40; w++ {
			pix := make([]byte, bpp*w)
			for i := range pix {
				pix[i] = byte(rng.IntN(256))
			}
			for _, x0 := range []int{0, min(3, w-1)} {
				n := w - x0
				want := make([]uint64, n)
				for i := range n {
					q := pix[bpp*(x0+i):]
					want[i] = pack(q[0], q[1], q[2])
				}
				for _, wide := range []bool{false, true} {
					got := make([]uint64, n+1)
					spanRow(pix[bpp*x0:], bpp, got[:n], wide)
					if !slices.Equal(got[:n], want) || got[n] != 0 {
						t.Fatalf("bpp %d, width %d from %d, wide %v: got %x, want %x", bpp, w, x0, wide, got, want)
					}
				}
			}
		}
	}
}

// BenchmarkRGBRow converts one RGB row of the text line's width at every
// column: through the column list, and as a run with and without AVX2.
func BenchmarkRGBRow(b *testing.B) {
	pix := make([]byte, 3*320)
	for i := range pix {
		pix[i] = byte(i)
	}
	xs := make([]int, 320)
	for i := range xs {
		xs[i] = i
	}
	out := make([]uint64, len(xs))
	for _, c := range []struct {
		name       string
		span, wide bool
	}{{"list", false, false}, {"run", true, false}, {"run wide", true, true}} {
		if c.wide && !hasWide() {
			continue
		}
		r := &pngRows{p: &pngStream{w: 320, h: 1, bpp: 3}, cur: append([]byte{0}, pix...), xs: xs, span: c.span, wide: c.wide, y: 1}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				r.row(0, out)
			}
		})
	}
}
