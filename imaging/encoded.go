package imaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/lcnet/lcnet/imaging/jpeg"
)

// DecodeMode says how much of a JPEG upload is decoded before
// preprocessing.
type DecodeMode string

const (
	// DecodeDefault defers to the next level: the request's mode to the
	// model's manifest, the manifest's to the server, the server's to
	// DecodeExact.
	DecodeDefault DecodeMode = ""
	// DecodeExact decodes every pixel and resizes as PaddleClas' cv2
	// pipeline does (see Preprocess).
	DecodeExact DecodeMode = "exact"
	// DecodeFast decodes a JPEG at 1/2, 1/4 or 1/8 of its size inside the
	// inverse DCT when the first resize shrinks it at least that much, then
	// resizes with PreprocessScaled: a few times less work on photos, at
	// the price of a tensor that differs from the exact one by what the
	// reduced decode averaged away.
	DecodeFast DecodeMode = "fast"
)

// ErrDecodeMode is wrapped by ParseDecodeMode's error.
var ErrDecodeMode = errors.New("decode mode is not exact or fast")

// ParseDecodeMode accepts "", "exact" and "fast".
func ParseDecodeMode(s string) (DecodeMode, error) {
	switch m := DecodeMode(s); m {
	case DecodeDefault, DecodeExact, DecodeFast:
		return m, nil
	}
	return "", fmt.Errorf("%w: %q", ErrDecodeMode, s)
}

// Or returns m, or def when m is DecodeDefault.
func (m DecodeMode) Or(def DecodeMode) DecodeMode {
	if m == DecodeDefault {
		return def
	}
	return m
}

// DecodeOptions are the limits and the mode of PreprocessEncoded.
type DecodeOptions struct {
	// MaxPixels bounds the header's pixel count (DefaultMaxPixels if <= 0).
	MaxPixels int
	// MaxBytes, if positive, bounds what a fast JPEG decode allocates for
	// its planes and coefficients (see jpeg.Options.MaxBytes).
	MaxBytes int64
	// Mode is DecodeExact or DecodeFast; DecodeDefault takes the
	// Preprocessor's arch.Preprocess.Decode, and failing that DecodeExact.
	Mode DecodeMode
	// Parallel lets a large JPEG decode on two goroutines (see
	// jpeg.Options.Parallel), and the resize of a decoded YCbCr image
	// run its output rows on two: it cuts one image's latency when a core
	// is idle, and costs a few percent more CPU.
	Parallel bool
}

// PreprocessEncoded decodes data (any format Decode reads) and
// preprocesses it into the model input tensor, as Decode followed by
// pp.Preprocess, except that in DecodeFast mode a JPEG whose first resize
// shrinks it by 2 or more is decoded at the largest of 1/2, 1/4, 1/8 that
// still leaves the resize target's size (jpeg.ScaleFor on the size after
// EXIF orientation) and resized with PreprocessScaled. The header's pixel
// count, the progressive scan count and truncation are checked as by
// Decode, and errors carry the same kinds.
func (pp *Preprocessor) PreprocessEncoded(ctx context.Context, data []byte, opt DecodeOptions, dst []float32) (tensor []float32, h, w int, err error) {
	if opt.Mode.Or(DecodeMode(pp.p.Decode)) == DecodeFast && bytes.HasPrefix(data, []byte("\xff\xd8\xff")) {
		if t, h, w, ok, err := pp.fastJPEG(ctx, data, opt, dst); ok || err != nil {
			return t, h, w, err
		}
	}
	if bytes.HasPrefix(data, []byte("\x89PNG")) {
		if t, h, w, ok := pp.fastPNG(ctx, data, opt.MaxPixels, dst); ok {
			return t, h, w, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, 0, 0, err
		}
	}
	// Only the pixels the resize reads are decoded in full; the tensor is
	// the one a whole decode gives.
	img, err := decode(ctx, data, opt.MaxPixels, opt.Parallel, func(w, h, o int) ([]int, []int, error) {
		dw, dh := w, h
		if swapsAxes(o) {
			dw, dh = h, w
		}
		return pp.storedTaps(w, h, dw, dh, 1, o)
	})
	if err != nil {
		return nil, 0, 0, err
	}
	return pp.preprocess(img, opt.Parallel, dst)
}

// fastJPEG is PreprocessEncoded's reduced JPEG decode. ok is false, with a
// nil error, when the resize does not shrink enough for a reduced decode
// to pay.
func (pp *Preprocessor) fastJPEG(ctx context.Context, data []byte, opt DecodeOptions, dst []float32) (tensor []float32, h, w int, ok bool, err error) {
	maxPixels := opt.MaxPixels
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	cfg, err := jpeg.DecodeConfig(data)
	if err != nil {
		return nil, 0, 0, false, jpegErr(err, data)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, 0, 0, false, errorf(ErrCorrupt, "JPEG header declares %dx%d pixels", cfg.Width, cfg.Height)
	}
	if n := int64(cfg.Width) * int64(cfg.Height); n > int64(maxPixels) {
		return nil, 0, 0, false, errorf(ErrTooLarge, "JPEG of %dx%d = %s exceeds the %s limit",
			cfg.Width, cfg.Height, mpx(n), mpx(int64(maxPixels)))
	}
	if n := bytes.Count(data, []byte{0xff, 0xda}); n > maxJPEGScans {
		return nil, 0, 0, false, errorf(ErrTooLarge, "JPEG with %d scans exceeds the %d-scan limit", n, maxJPEGScans)
	}
	o := jpegOrientation(data)
	origW, origH := cfg.Width, cfg.Height
	if swapsAxes(o) {
		origW, origH = origH, origW
	}
	rw, rh, _, _, _, _, err := pp.geometry(origW, origH)
	if err != nil {
		return nil, 0, 0, false, err
	}
	s := jpeg.ScaleFor(origW, origH, rw, rh)
	if s == 1 {
		return nil, 0, 0, false, nil
	}
	jo := jpeg.Options{Scale: s, MaxPixels: int64(maxPixels), MaxBytes: opt.MaxBytes, Context: ctx, Parallel: opt.Parallel}
	sw, sh := (cfg.Width+s-1)/s, (cfg.Height+s-1)/s
	if jo.Rows, jo.Cols, err = pp.storedTaps(sw, sh, origW, origH, s, o); err != nil {
		return nil, 0, 0, false, err
	}
	img, err := jpeg.Decode(data, jo)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, 0, false, ctx.Err()
		}
		return nil, 0, 0, false, jpegErr(err, data)
	}
	tensor, h, w, err = pp.preprocessScaled(Orient(img, o), origW, origH, opt.Parallel, dst)
	return tensor, h, w, true, err
}

// jpegErr gives an imaging/jpeg error the kind Decode would have given it.
func jpegErr(err error, data []byte) error {
	var u jpeg.UnsupportedError
	switch {
	case errors.Is(err, jpeg.ErrTooLarge):
		return errorf(ErrTooLarge, "%v", err)
	case errors.As(err, &u):
		return errorf(ErrUnsupported, "JPEG uses a feature the decoder does not support: %v", err)
	case truncated("jpeg", data):
		return errorf(ErrCorrupt, "truncated JPEG (no end marker after %d bytes): %v", len(data), err)
	}
	return errorf(ErrCorrupt, "invalid JPEG data: %v", err)
}
