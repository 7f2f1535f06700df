// Package jpeg decodes baseline and progressive JPEG images, optionally at
// 1/2, 1/4 or 1/8 of their size inside the inverse DCT, the way libjpeg's
// scaled decoding (PIL's draft mode, OpenCV's IMREAD_REDUCED_*, libvips'
// shrink-on-load) does. A classifier that wants 224x224 gains nothing from
// the full 8x8 IDCT of a 12 Mpx photo: at scale 8 each block is just its DC
// coefficient, and progressive AC scans are skipped without being decoded.
//
// Decode returns planes at the reduced size (*image.YCbCr with the file's
// subsampling, *image.Gray, *image.CMYK or, for Adobe RGB files,
// *image.RGBA), so a later resize can read them row by row. Memory is
// budgeted before anything is allocated: Options.MaxPixels bounds the
// header's pixel count and Options.MaxBytes every buffer the decode
// allocates, both refused with an error wrapping ErrTooLarge.
package jpeg

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
)

// ErrTooLarge is wrapped by the error Decode returns when the image exceeds
// Options.MaxPixels or its buffers exceed Options.MaxBytes.
var ErrTooLarge = errors.New("jpeg: image too large")

// A FormatError reports that the input is not a valid JPEG, including
// truncated data: like image/jpeg, a scan that ends before its last block
// is an error, not a gray remainder. Unlike image/jpeg, a file cut after
// its last complete scan (a missing EOI) decodes, as libjpeg's does.
type FormatError string

func (e FormatError) Error() string { return "jpeg: invalid format: " + string(e) }

// An UnsupportedError reports that the input uses a valid JPEG feature this
// package does not implement (arithmetic coding, lossless, 12-bit samples,
// 2-component images, unusual sampling factors).
type UnsupportedError string

func (e UnsupportedError) Error() string { return "jpeg: unsupported feature: " + string(e) }

// Options controls Decode. The zero value decodes at full size with no limits.
type Options struct {
	// Scale is 1, 2, 4 or 8 (0 means 1): the output is ceil(w/Scale) x
	// ceil(h/Scale), each 8x8 block decoded to 8/Scale x 8/Scale samples
	// that are the box average of the full-size block.
	Scale int
	// MaxPixels, if positive, refuses images whose full-size width*height
	// exceeds it, before anything is allocated.
	MaxPixels int64
	// MaxBytes, if positive, refuses images whose decode would allocate
	// more than this many bytes of planes, progressive coefficients (2
	// bytes per coefficient, 64 per block, 1 at scale 8, and 8 bytes per
	// block marking the nonzero ones) and interleaved CMYK/RGBA output. The decoder's fixed state (about 100 KB of Huffman
	// tables) is not counted.
	MaxBytes int64
	// Context, if set, stops the decode with its error once it is done,
	// checked once per row of blocks.
	Context context.Context
	// Rows and Cols, if both are set, list the only rows and columns of
	// the output (at the decode scale) whose pixels the caller reads, as
	// a resize that reads a few taps per output pixel does. Every block is
	// still decoded and checked, but the inverse DCT runs only for the
	// samples those pixels are made of (for subsampled chroma, also the
	// neighbouring samples an upsampling filter reads); the other samples
	// of the planes are unspecified. Positions outside the image are
	// ignored.
	Rows, Cols []int
	// Parallel lets a large decode use a second goroutine. In a baseline
	// scan with restart markers the two take groups of intervals
	// (restart.go). In one without, the second one starts part of the
	// way into the Huffman codes and resynchronises: at Scale 8 it
	// decodes the rest of the scan (see split.go), at the others it
	// indexes it and then decodes what the calling goroutine has not
	// (split_index.go). Otherwise the calling one decodes the Huffman
	// codes while the other runs the inverse DCT of the previous band of
	// blocks. A progressive decode's scans are decoded by both, each
	// taking the next scan that does not depend on one still running
	// (scans.go), and so is its final IDCT. The output and errors are the
	// same. It applies from 1024x768 pixels up, and not when its buffers
	// (about 1 MB for the bands, the index or a progressive decode's
	// table copies, a few MB for a split at Scale 8) would exceed
	// MaxBytes.
	Parallel bool

	// Tests lower these to pipeline or split small images in many
	// bands, and move where a split scan's second reader starts.
	parallelMin int64
	bandBlocks  int
	splitMin    int64
	splitAt     int
	splitPark   bool
	schedTables int
}

// Config is what the headers say about an image.
type Config struct {
	Width, Height int
	// Components is 1 (gray), 3 (YCbCr or RGB) or 4 (CMYK or YCCK).
	Components  int
	Progressive bool
	// ColorModel is the model of the image Decode returns: color.GrayModel,
	// color.YCbCrModel, color.CMYKModel or color.RGBAModel.
	ColorModel color.Model
	// Subsample is the chroma subsampling of a 3-component YCbCr image.
	Subsample image.YCbCrSubsampleRatio
}

// ScaleFor returns the largest s in {8, 4, 2, 1} such that
// ceil(srcW/s) >= dstW and ceil(srcH/s) >= dstH: the cheapest decode scale
// that still leaves at least the requested size for the resize that
// follows, so the result is never upsampled. It returns 1 if even the full
// size is smaller than the request.
func ScaleFor(srcW, srcH, dstW, dstH int) int {
	for s := 8; s > 1; s /= 2 {
		if (srcW+s-1)/s >= dstW && (srcH+s-1)/s >= dstH {
			return s
		}
	}
	return 1
}

// DecodeConfig reads the headers up to the first scan.
func DecodeConfig(data []byte) (Config, error) {
	d := &decoder{data: data, scale: 1}
	if err := d.parse(true); err != nil {
		return Config{}, err
	}
	return d.config()
}

// Decode decodes a JPEG image at the scale opt asks for.
func Decode(data []byte, opt Options) (image.Image, error) {
	d, err := newDecoder(data, opt)
	if err != nil {
		return nil, err
	}
	if err := d.parse(false); err != nil {
		return nil, err
	}
	return d.output()
}

func newDecoder(data []byte, opt Options) (*decoder, error) {
	scale := opt.Scale
	switch scale {
	case 0:
		scale = 1
	case 1, 2, 4, 8:
	default:
		return nil, fmt.Errorf("jpeg: scale %d is not 1, 2, 4 or 8", opt.Scale)
	}
	d := &decoder{data: data, scale: scale, maxPixels: opt.MaxPixels, maxBytes: opt.MaxBytes, ctx: opt.Context}
	d.parallel, d.parallelMin, d.bandBlocks = opt.Parallel, parallelMinPixels, bandBlocks
	if opt.parallelMin > 0 {
		d.parallelMin = opt.parallelMin
	}
	if opt.bandBlocks > 0 {
		d.bandBlocks = opt.bandBlocks
	}
	d.splitMin, d.splitAt, d.splitMinBytes, d.chunkBlocks = splitMinPixels, 0, splitMinBytes, specChunkBlocks
	if opt.splitMin > 0 {
		d.splitMin, d.splitMinBytes, d.chunkBlocks, d.splitTest = opt.splitMin, 64, 64, true
	}
	if opt.splitAt > 0 && opt.splitAt < 64 {
		d.splitAt = opt.splitAt
	}
	d.splitPark = opt.splitPark
	d.schedTables = schedTables
	if opt.schedTables > 0 {
		d.schedTables = opt.schedTables
	}
	if opt.Rows != nil && opt.Cols != nil {
		d.needRows, d.needCols = opt.Rows, opt.Cols
	}
	return d, nil
}

func (d *decoder) config() (Config, error) {
	c := Config{Width: d.width, Height: d.height, Components: d.ncomp, Progressive: d.progressive}
	switch d.ncomp {
	case 1:
		c.ColorModel = color.GrayModel
	case 3:
		if d.isRGB() {
			c.ColorModel = color.RGBAModel
		} else {
			c.ColorModel = color.YCbCrModel
		}
		c.Subsample = d.subsample
	case 4:
		if !d.adobe {
			return Config{}, UnsupportedError("4-component JPEG without Adobe APP14 segment")
		}
		c.ColorModel = color.CMYKModel
	}
	return c, nil
}
