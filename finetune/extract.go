package finetune

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"image/draw"
	"io/fs"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/nn"
	"github.com/lcnet/lcnet/train/dataset"
	"github.com/lcnet/lcnet/train/features"
)

// cropSide is the side fraction of AugCrop: 90% of the area.
var cropSide = math.Sqrt(0.9)

// extractor runs images through the frozen backbone.
type extractor struct {
	model *nn.Model
	pp    *imaging.Preprocessor
	arch  arch.Arch
	opt   Options
	// layers are the backbone outputs each cached row holds, side by
	// side in this order.
	layers []string
	// decode and backbone add up the time spent decoding and
	// preprocessing, and in the network.
	decode, backbone time.Duration
}

// dim is the width of the cached rows: every layer's, side by side.
func (e *extractor) dim() int {
	n := 0
	for _, l := range e.layers {
		n += e.width(l)
	}
	return n
}

// width is the width of one layer's rows.
func (e *extractor) width(layer string) int {
	if layer == LayerPooled {
		return e.arch.LastChannels()
	}
	return e.arch.FeatureDim()
}

// span is where layer's columns sit in a cached row.
func (e *extractor) span(layer string) (from, to int) {
	for _, l := range e.layers {
		if l == layer {
			return from, from + e.width(l)
		}
		from += e.width(l)
	}
	panic("finetune: span of a layer that was not extracted: " + layer)
}

// scale is what the served network multiplies layer's rows by before fc:
// the dropout in downscale_in_infer mode follows last_conv and scales by
// 1-p (nn folds it into fc's weights). The head must be trained on
// exactly what fc sees, so the rows carry the factor; without last_conv
// there is no dropout layer.
func (e *extractor) scale(layer string) float32 {
	if layer == LayerFeatures && e.arch.UseLastConv {
		return float32(1 - e.arch.DropoutProb)
	}
	return 1
}

// sample is one preprocessed input: image item, augmentation aug.
type sample struct {
	item, aug int
	x         []float32
	h, w      int
}

// run extracts set's items (cache keys offset+i), one row per augmentation
// in augs ("" is the image as is). It returns which items decoded; an item
// that does not decode is skipped, any other failure stops the run.
func (e *extractor) run(ctx context.Context, set *dataset.Set, offset int, augs []string, cache *features.Cache, progress func(done int)) ([]bool, error) {
	n := len(set.Items)
	ok := make([]bool, n)
	bs := e.opt.ExtractBatch
	// In the foreground the next batch is decoded while the backbone runs
	// this one (decoding was 15% of extraction at x1.0); a background job
	// (Yield) does one thing at a time, to leave the other cores alone.
	overlap := !e.opt.Yield
	next := func(start int) <-chan batch {
		ch := make(chan batch, 1)
		go func() {
			t0 := time.Now()
			end := min(start+bs, n)
			samples, err := e.prepare(ctx, set, start, end, augs, ok)
			ch <- batch{samples: samples, err: err, end: end, took: time.Since(t0)}
		}()
		return ch
	}
	var pending <-chan batch
	if n > 0 {
		pending = next(0)
	}
	for pending != nil {
		b := <-pending
		pending = nil
		if b.err != nil {
			return nil, b.err
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("finetune: extraction stopped: %w", err)
		}
		e.decode += b.took
		if overlap && b.end < n {
			pending = next(b.end)
		}
		t0 := time.Now()
		if err := e.infer(ctx, b.samples, offset, cache); err != nil {
			if pending != nil {
				<-pending // prepare writes to ok: let it finish first
			}
			return nil, err
		}
		e.backbone += time.Since(t0)
		progress(offset + b.end)
		if e.opt.Yield {
			runtime.Gosched()
		}
		if !overlap && b.end < n {
			pending = next(b.end)
		}
	}
	return ok, nil
}

// batch is one batch of prepared inputs: items up to end.
type batch struct {
	samples []sample
	err     error
	end     int
	took    time.Duration
}

// prepare decodes and preprocesses items [start, end) on opt.Threads
// goroutines, marking the ones that decode in ok.
func (e *extractor) prepare(ctx context.Context, set *dataset.Set, start, end int, augs []string, ok []bool) ([]sample, error) {
	out := make([][]sample, end-start)
	errs := make([]error, end-start)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(e.opt.Threads, end-start) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i-start], errs[i-start] = e.prepareOne(set, i, augs)
			}
		}()
	}
	for i := start; i < end && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("finetune: extraction stopped: %w", err)
	}
	var all []sample
	for i, s := range out {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if s != nil {
			ok[start+i] = true
			all = append(all, s...)
		}
	}
	return all, nil
}

// prepareOne returns item i's inputs, or nil when it does not decode.
func (e *extractor) prepareOne(set *dataset.Set, i int, augs []string) ([]sample, error) {
	p := set.Items[i].Path
	data, err := fs.ReadFile(set.FS, p)
	if err != nil {
		return nil, fmt.Errorf("finetune: reading %s: %w", p, err)
	}
	img, err := imaging.Decode(data, imaging.DefaultMaxPixels)
	if err != nil {
		return nil, nil
	}
	var out []sample
	for a, name := range augs {
		x, h, w, err := e.pp.Preprocess(augment(img, name, e.opt.Head.Seed, p), nil)
		if errors.Is(err, imaging.ErrTooLarge) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("finetune: preprocessing %s: %w", p, err)
		}
		out = append(out, sample{item: i, aug: a, x: x, h: h, w: w})
	}
	return out, nil
}

// infer runs samples through the backbone, as few calls as their sizes
// allow (one when the preprocessing has a fixed output size), and caches
// the rows.
func (e *extractor) infer(ctx context.Context, samples []sample, offset int, cache *features.Cache) error {
	for len(samples) > 0 {
		h, w := samples[0].h, samples[0].w
		var group, rest []sample
		for _, s := range samples {
			if s.h == h && s.w == w {
				group = append(group, s)
			} else {
				rest = append(rest, s)
			}
		}
		samples = rest
		x := make([]float32, 0, len(group)*3*h*w)
		for _, s := range group {
			x = append(x, s.x...)
		}
		out, err := e.model.Infer(ctx, x, len(group), h, w)
		if err != nil {
			return fmt.Errorf("finetune: backbone: %w", err)
		}
		row := make([]float32, e.dim())
		for j, s := range group {
			at := 0
			for _, layer := range e.layers {
				src, d := out.Features, out.FeatureDim
				if layer == LayerPooled {
					src, d = out.Pooled, out.PooledDim
				}
				scale := e.scale(layer)
				for k, v := range src[j*d : (j+1)*d] {
					row[at+k] = v * scale
				}
				at += d
			}
			if err := cache.Put(features.Key{Image: offset + s.item, Aug: s.aug}, row); err != nil {
				return fmt.Errorf("finetune: caching features: %w", err)
			}
		}
	}
	return nil
}

// augment returns img under augmentation name. The crop's position is
// drawn from a stream seeded by seed and the image's path, so it is the
// same on every run and does not depend on the order of the set.
func augment(img image.Image, name string, seed uint64, path string) image.Image {
	if name == "" {
		return img
	}
	b := img.Bounds()
	src := b
	if name == AugCrop {
		h := fnv.New64a()
		h.Write([]byte(path))
		rng := rand.New(rand.NewPCG(seed, h.Sum64()))
		cw := max(1, int(math.Round(float64(b.Dx())*cropSide)))
		ch := max(1, int(math.Round(float64(b.Dy())*cropSide)))
		x0 := b.Min.X + rng.IntN(b.Dx()-cw+1)
		y0 := b.Min.Y + rng.IntN(b.Dy()-ch+1)
		src = image.Rect(x0, y0, x0+cw, y0+ch)
	}
	dst := image.NewRGBA(image.Rect(0, 0, src.Dx(), src.Dy()))
	draw.Draw(dst, dst.Bounds(), img, src.Min, draw.Src)
	if name == AugFlip {
		w := dst.Rect.Dx()
		for y := range dst.Rect.Dy() {
			row := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
			for l, r := 0, w-1; l < r; l, r = l+1, r-1 {
				a, b := row[4*l:4*l+4], row[4*r:4*r+4]
				for c := range 4 {
					a[c], b[c] = b[c], a[c]
				}
			}
		}
	}
	return dst
}
