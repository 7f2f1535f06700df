// Package imaging turns the bytes users upload into PP-LCNet input tensors.
//
// Decode sniffs the format itself (JPEG, PNG, GIF, BMP, WebP, TIFF) instead
// of going through image.Decode, so the set of accepted formats does not
// depend on which packages happen to register decoders, checks the header's
// pixel count before any pixel buffer is allocated, and applies the EXIF
// orientation the way cv2.imdecode does. Preprocess then reproduces
// PaddleClas' cv2 pipeline (DecodeImage, ResizeImage, CropImage,
// NormalizeImage, ToCHWImage) without ever converting the whole decoded
// image, reading pixels as OpenCV would have decoded them: alpha dropped
// rather than composited, 16-bit truncated to the high byte, JPEG chroma
// upsampled and converted as libjpeg does, lossy WebP as libwebp does.
// JPEGs are decoded by imaging/jpeg, whose IDCT is libjpeg's. Against
// OpenCV 4.6 (testdata/cv2) the result is bit-exact for lossless formats,
// lossy WebP and YCbCr JPEG, and within a level for YCCK JPEG.
package imaging

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	ijpeg "github.com/lcnet/lcnet/imaging/jpeg"
)

// The errors Decode and DecodeConfig wrap, so callers can map them with
// errors.Is: ErrUnsupported to 415, ErrCorrupt to 422, ErrTooLarge to 413.
var (
	ErrUnsupported = errors.New("unsupported image format")
	ErrCorrupt     = errors.New("corrupt image")
	ErrTooLarge    = errors.New("image too large")
)

// Error is what Decode and DecodeConfig return: Kind is one of the
// sentinels above (for errors.Is), Msg says what was wrong in words fit for
// the API's response, without the sentinel's text repeated.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// DefaultMaxPixels is the decoded-size limit Decode applies when it is given
// maxPixels <= 0: 64 Mpx is 192 MB of RGB, beyond any photo a phone takes.
const DefaultMaxPixels = 64_000_000

// maxJPEGScans bounds progressive JPEG scans (libjpeg writes 10, mozjpeg a
// few more; libjpeg-turbo's djpeg offers the same kind of limit).
const maxJPEGScans = 100

// A format knows how to recognise, size and decode one file type.
type format struct {
	name   string
	match  func(head []byte) bool
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

// sniffLen is how many leading bytes sniff needs (RIFF....WEBPVP8).
const sniffLen = 15

func sniff(head []byte) (format, bool) {
	for _, f := range []format{
		{"jpeg", func(b []byte) bool { return bytes.HasPrefix(b, []byte("\xff\xd8\xff")) }, jpeg.DecodeConfig, jpeg.Decode},
		{"png", func(b []byte) bool { return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) }, png.DecodeConfig, png.Decode},
		{"gif", func(b []byte) bool {
			return bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a"))
		}, gif.DecodeConfig, gif.Decode},
		{"bmp", func(b []byte) bool { return bytes.HasPrefix(b, []byte("BM")) && len(b) >= 14 }, bmp.DecodeConfig, bmp.Decode},
		{"webp", func(b []byte) bool {
			return len(b) >= 15 && string(b[:4]) == "RIFF" && string(b[8:15]) == "WEBPVP8"
		}, webp.DecodeConfig, webp.Decode},
		{"tiff", func(b []byte) bool {
			return bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*"))
		}, tiff.DecodeConfig, tiff.Decode},
	} {
		if f.match(head) {
			return f, true
		}
	}
	return format{}, false
}

// DecodeConfig reads only as much of r as the format's header needs and
// reports the format name ("jpeg", "png", "gif", "bmp", "webp", "tiff") and
// the stored width and height (before EXIF orientation).
func DecodeConfig(r io.Reader) (format string, w, h int, err error) {
	return decodeConfig(r, nil)
}

// decodeConfig is DecodeConfig for r reading data, if known, which makes
// truncation messages say where the data ended.
func decodeConfig(r io.Reader, data []byte) (format string, w, h int, err error) {
	n := -1
	if data != nil {
		n = len(data)
	}
	var head []byte
	if data != nil {
		// r reads data: the header is at hand, and a bufio.Reader (4 KB
		// per call, twice per upload in a server) would only copy it.
		head = data[:min(len(data), sniffLen)]
	} else {
		br := bufio.NewReader(r)
		head, _ = br.Peek(sniffLen)
		r = br
	}
	f, ok := sniff(head)
	if !ok {
		return "", 0, 0, unsupported(head)
	}
	cfg, err := f.config(r)
	if err != nil {
		return f.name, 0, 0, classify(f.name, "header", err, n, data)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return f.name, 0, 0, errorf(ErrCorrupt, "%s header declares %dx%d pixels", upper(f.name), cfg.Width, cfg.Height)
	}
	return f.name, cfg.Width, cfg.Height, nil
}

// Decode decodes data and returns the image as it is meant to be displayed,
// with any EXIF orientation (JPEG APP1, TIFF IFD0) applied. It refuses, with
// ErrTooLarge and before allocating pixels, images whose header declares
// more than maxPixels pixels (DefaultMaxPixels if maxPixels <= 0).
//
// The returned image is the decoder's own type (*image.YCbCr, *image.NRGBA,
// ...), a view of a lossy WebP frame that converts its limited-range YUV as
// libwebp does, or, for orientations 2-8, an *Oriented view of either;
// Preprocess reads them all without converting the whole image. (At on a
// JPEG's *image.YCbCr is Go's nearest-chroma conversion; only Preprocess
// applies libjpeg's chroma filter.)
func Decode(data []byte, maxPixels int) (image.Image, error) {
	return DecodeContext(context.Background(), data, maxPixels)
}

// DecodeContext is Decode that gives up, returning ctx.Err(), once ctx is
// done: the decoders read through a reader that fails from then on, so
// even a long inflate stops within one read.
func DecodeContext(ctx context.Context, data []byte, maxPixels int) (image.Image, error) {
	return decode(ctx, data, maxPixels, false, nil)
}

// tapsFunc returns the stored rows and columns of a stored w x h image in
// orientation o that the caller will read (Preprocessor.storedTaps).
type tapsFunc func(w, h, o int) (rows, cols []int, err error)

// decode is DecodeContext; a JPEG decode computes only the pixels taps,
// if not nil, names: the others are left unspecified. parallel is
// jpeg.Options.Parallel.
func decode(ctx context.Context, data []byte, maxPixels int, parallel bool, taps tapsFunc) (image.Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	name, w, h, err := decodeConfig(bytes.NewReader(data), data)
	if err != nil {
		return nil, err
	}
	if int64(w)*int64(h) > int64(maxPixels) {
		return nil, errorf(ErrTooLarge, "%s of %dx%d = %s exceeds the %s limit",
			upper(name), w, h, mpx(int64(w)*int64(h)), mpx(int64(maxPixels)))
	}
	if name == "jpeg" {
		// Each progressive scan costs a pass over every block, so a small
		// file with thousands of scans is a CPU bomb within the pixel
		// limit. Counting FF DA overcounts (an EXIF thumbnail's scans), but
		// real encoders write at most a few dozen.
		if n := bytes.Count(data, []byte{0xff, 0xda}); n > maxJPEGScans {
			return nil, errorf(ErrTooLarge, "JPEG with %d scans exceeds the %d-scan limit", n, maxJPEGScans)
		}
	}
	var img image.Image
	if name == "jpeg" {
		// imaging/jpeg's IDCT is libjpeg's islow, so the pixels are the
		// ones OpenCV decodes, and it is about twice as fast as
		// image/jpeg.
		opt := ijpeg.Options{MaxPixels: int64(maxPixels), Context: ctx, Parallel: parallel}
		if taps != nil {
			// A taps error (a crop larger than the image) is the
			// preprocessing's to report; the decode is then whole.
			if rows, cols, err := taps(w, h, jpegOrientation(data)); err == nil {
				opt.Rows, opt.Cols = rows, cols
			}
		}
		img, err = ijpeg.Decode(data, opt)
	} else {
		f, _ := sniff(data)
		img, err = f.decode(newCtxReader(ctx, data))
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if name == "jpeg" {
			return nil, jpegErr(err, data)
		}
		return nil, classify(name, "data", err, len(data), data)
	}
	if b := img.Bounds(); b.Empty() || b.Dx() > w || b.Dy() > h {
		// The limit was checked against the header; a decoder that returns
		// more would make that check meaningless. Less is legitimate: a
		// GIF's first frame may cover only part of its logical screen.
		return nil, errorf(ErrCorrupt, "%s header declares %dx%d but decoded %dx%d", upper(name), w, h, b.Dx(), b.Dy())
	}
	var o int
	switch name {
	case "webp":
		img = newWebP(img)
	case "jpeg":
		o = jpegOrientation(data)
	case "tiff":
		o, _ = tiffOrientation(data)
	}
	return Orient(img, o), nil
}

// classify wraps a decoder error in ErrUnsupported or ErrCorrupt. n is the
// input length for the "after N bytes" hint, or -1 when unknown.
func classify(name, part string, err error, n int, data []byte) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		if n >= 0 {
			return errorf(ErrCorrupt, "truncated %s: unexpected EOF after %d bytes", upper(name), n)
		}
		return errorf(ErrCorrupt, "truncated %s %s: unexpected EOF", upper(name), part)
	case name == "webp" && animatedWebP(data):
		return errorf(ErrUnsupported, "animated WebP is not supported: %v", err)
	case truncated(name, data):
		return errorf(ErrCorrupt, "truncated %s (no end marker after %d bytes): %v", upper(name), len(data), err)
	case isUnsupportedFeature(err):
		return errorf(ErrUnsupported, "%s uses a feature the decoder does not support: %v", upper(name), err)
	}
	return errorf(ErrCorrupt, "invalid %s %s: %v", upper(name), part, err)
}

// truncated reports whether data, which failed to decode, lacks the marker
// its format ends with, so the error can say "truncated" even where the
// decoder only noticed garbage (a cut JPEG reads as short Huffman data).
func truncated(name string, data []byte) bool {
	if len(data) == 0 {
		return false
	}
	switch name {
	case "jpeg":
		return !bytes.Contains(data[max(0, len(data)-64):], []byte("\xff\xd9"))
	case "png":
		return !bytes.Contains(data, []byte("IEND"))
	case "gif":
		return data[len(data)-1] != 0x3b
	}
	return false
}

// isUnsupportedFeature reports the decoders' "valid file, feature not
// implemented" errors (arithmetic-coded JPEG, 12-bit JPEG, exotic TIFF
// compressions), which are 415 rather than 422 material.
func isUnsupportedFeature(err error) bool {
	var (
		j jpeg.UnsupportedError
		p png.UnsupportedError
		t tiff.UnsupportedError
	)
	return errors.As(err, &j) || errors.As(err, &p) || errors.As(err, &t) || errors.Is(err, bmp.ErrUnsupported)
}

// animatedWebP reports whether a WebP file's VP8X header sets the animation
// flag; x/image/webp decodes only still images and calls those invalid.
func animatedWebP(data []byte) bool {
	return len(data) > 20 && string(data[12:16]) == "VP8X" && data[20]&0x02 != 0
}

func unsupported(head []byte) error {
	if len(head) == 0 {
		return errorf(ErrUnsupported, "empty input")
	}
	return errorf(ErrUnsupported, "leading bytes %q match none of JPEG, PNG, GIF, BMP, WebP, TIFF", head)
}

func upper(name string) string {
	switch name {
	case "webp":
		return "WebP"
	}
	b := []byte(name)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// mpx formats a pixel count in megapixels, exactly when it is a whole number.
func mpx(n int64) string {
	if n%1_000_000 == 0 || n >= 100_000_000 {
		return fmt.Sprintf("%d Mpx", (n+500_000)/1_000_000)
	}
	return fmt.Sprintf("%.1f Mpx", float64(n)/1e6)
}
