package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/nn"
	"github.com/lcnet/lcnet/zoo"
)

// benchResult is the --json output; e2e/bench's ONNX side-by-side script
// reads these field names.
type benchResult struct {
	Model        string  `json:"model"`
	Version      string  `json:"version"`
	Batch        int     `json:"batch"`
	Threads      int     `json:"threads"`
	Impl         string  `json:"impl"`
	Height       int     `json:"height"`
	Width        int     `json:"width"`
	Half         bool    `json:"half"`
	Iterations   int     `json:"iterations"`
	P50ms        float64 `json:"p50_ms"`
	P90ms        float64 `json:"p90_ms"`
	P99ms        float64 `json:"p99_ms"`
	MeanMs       float64 `json:"mean_ms"`
	ImagesPerSec float64 `json:"images_per_sec"`
	RSSBytes     int64   `json:"rss_bytes"`
	WeightBytes  int     `json:"weight_bytes"`
	// Decode and Images are set with --image: the decode mode and each
	// file's decode + preprocess + network timings.
	Decode string       `json:"decode,omitempty"`
	Images []imageBench `json:"images,omitempty"`
}

func (a *app) benchCmd() *cobra.Command {
	var (
		store, ref, size, decode string
		images                   []string
		batch, threads           int
		duration, warmup         time.Duration
		half, asJSON             bool
	)
	cmd := &cobra.Command{
		Use:   "bench --model NAME[:VERSION]",
		Short: "Measure a model's inference latency and throughput",
		Long: `Bench loads a model, warms it up, then runs inference on a fixed random
batch for --duration and reports latency percentiles (p50/p90/p99, per batch),
images per second, the process's resident memory (VmRSS) and the bytes the
weights take. It also names the CPU kernel implementation in use.

With --image FILE... it times instead what a server does per request, one
image at a time: decode (--decode exact or fast), preprocess and the
network, and reports per file the percentiles of the whole and the medians
of both halves.

Numbers on a machine shared with other work are noisy: compare runs made
back to back, and prefer several short runs to one long one.`,
		Example: `  lcnet bench --model PPLCNet_x1_0
  lcnet bench --model PPLCNet_x1_0 --batch 8 --threads 2 --duration 20s
  lcnet bench --model textline --size 80x160 --half --json
  lcnet bench --model PPLCNet_x1_0 --image photo.jpg --decode fast`,
		RunE: func(cmd *cobra.Command, args []string) error {
			// "--image a.jpg b.jpg": the files after the first are
			// positional.
			if len(args) > 0 && len(images) == 0 {
				return usagef("no positional arguments (use --model, or --image FILE...)")
			}
			images = append(images, args...)
			if ref == "" {
				return usagef("--model is required")
			}
			if batch < 1 {
				return usagef("--batch must be at least 1, got %d", batch)
			}
			if duration <= 0 {
				return usagef("--duration must be positive, got %v", duration)
			}
			var h, w int
			if size != "" {
				var err error
				if h, w, err = parseSize(size); err != nil {
					return err
				}
			}
			mode, err := parseDecode(decode)
			if err != nil {
				return err
			}
			if len(images) > 0 && (batch != 1 || size != "") {
				return usagef("--image times one image at a time at the model's size: drop --batch and --size")
			}
			ctx := cmd.Context()
			m, model, err := loadModel(ctx, store, ref, nn.Options{Half: half, Threads: threads})
			if err != nil {
				return err
			}
			defer model.Close()
			if h == 0 {
				h, w = m.Arch.InputSize(m.Preprocess)
			}
			impl := kernelImpl()
			if len(images) > 0 {
				rs, err := benchImages(ctx, m, model, mode.Or(imaging.DecodeMode(m.Preprocess.Decode)).Or(imaging.DecodeExact), images, duration, warmup)
				if err != nil {
					return err
				}
				r := benchResult{Model: m.Name, Version: m.Version, Batch: 1, Threads: threads, Impl: impl, Height: h, Width: w,
					Half: half || m.DType == zoo.FP16, WeightBytes: model.WeightBytes(),
					Decode: string(mode.Or(imaging.DecodeMode(m.Preprocess.Decode)).Or(imaging.DecodeExact)), Images: rs}
				if r.Threads <= 0 {
					r.Threads = runtime.NumCPU()
				}
				r.RSSBytes, _ = residentBytes()
				if asJSON {
					return writeJSON(a.stdout, r)
				}
				fmt.Fprintf(a.stdout, "%s:%s  decode %s  threads %d  kernels %s\n", r.Model, r.Version, r.Decode, r.Threads, r.Impl)
				printImageBench(a.stdout, rs)
				return nil
			}
			if !asJSON {
				fmt.Fprintf(a.stderr, "bench %s:%s batch %d, %dx%d, threads %d, kernels %s, half %v\n",
					m.Name, m.Version, batch, h, w, threads, impl, half || m.DType == zoo.FP16)
			}
			// A fixed seed: every run measures the same work.
			rng := rand.New(rand.NewPCG(1, 2))
			x := make([]float32, batch*3*h*w)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			warmEnd := time.Now().Add(warmup)
			for i := 0; i < 2 || time.Now().Before(warmEnd); i++ {
				if _, err := model.Infer(ctx, x, batch, h, w); err != nil {
					return err
				}
			}
			var lat []time.Duration
			start := time.Now()
			for time.Since(start) < duration || len(lat) < 5 {
				t0 := time.Now()
				if _, err := model.Infer(ctx, x, batch, h, w); err != nil {
					return err
				}
				lat = append(lat, time.Since(t0))
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
			elapsed := time.Since(start)
			r := benchResult{
				Model: m.Name, Version: m.Version, Batch: batch, Threads: threads, Impl: impl,
				Height: h, Width: w, Half: half || m.DType == zoo.FP16, Iterations: len(lat),
				ImagesPerSec: float64(batch*len(lat)) / elapsed.Seconds(),
				WeightBytes:  model.WeightBytes(),
			}
			if r.Threads <= 0 {
				r.Threads = runtime.NumCPU() // nn's default for Threads 0
			}
			r.P50ms, r.P90ms, r.P99ms, r.MeanMs = latencyStats(lat)
			r.RSSBytes, _ = residentBytes()
			if asJSON {
				return writeJSON(a.stdout, r)
			}
			fmt.Fprintf(a.stdout, "%s:%s  batch %d  %dx%d  threads %d  kernels %s\n", r.Model, r.Version, r.Batch, h, w, r.Threads, r.Impl)
			fmt.Fprintf(a.stdout, "latency per batch  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  mean %.2f ms  (%d runs)\n", r.P50ms, r.P90ms, r.P99ms, r.MeanMs, r.Iterations)
			fmt.Fprintf(a.stdout, "throughput  %.1f images/s\n", r.ImagesPerSec)
			fmt.Fprintf(a.stdout, "memory  resident %s  weights %s\n", humanBytes(r.RSSBytes), humanBytes(int64(r.WeightBytes)))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ref, "model", "", "model as NAME or NAME:VERSION (required)")
	f.IntVar(&batch, "batch", 1, "images per inference call")
	f.IntVar(&threads, "threads", 0, "worker threads (default: all cores)")
	f.DurationVar(&duration, "duration", 10*time.Second, "how long to measure")
	f.DurationVar(&warmup, "warmup", time.Second, "how long to run before measuring")
	f.StringVar(&size, "size", "", "input size HxW (default: the model's own)")
	f.BoolVar(&half, "half", false, "hold the weights in fp16 (always so for fp16 models)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.StringArrayVar(&images, "image", nil, "time decode + preprocess + network on these image files (repeatable)")
	f.StringVar(&decode, "decode", "", "with --image: JPEG decoding, exact or fast (default: the model's manifest, else exact)")
	a.storeFlag(cmd, &store)
	return cmd
}

// parseSize reads "HxW" (or one number for a square).
func parseSize(s string) (h, w int, err error) {
	hs, ws, ok := strings.Cut(strings.ToLower(s), "x")
	if !ok {
		ws = hs
	}
	h, err1 := strconv.Atoi(hs)
	w, err2 := strconv.Atoi(ws)
	if err1 != nil || err2 != nil || h < 1 || w < 1 {
		return 0, 0, usagef("--size %q: want HxW, e.g. 224x224", s)
	}
	return h, w, nil
}

// latencyStats returns nearest-rank percentiles and the mean, in ms.
func latencyStats(lat []time.Duration) (p50, p90, p99, mean float64) {
	if len(lat) == 0 {
		return
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	pct := func(p float64) float64 {
		i := int(p*float64(len(s))+0.999999) - 1
		i = max(0, min(i, len(s)-1))
		return float64(s[i]) / 1e6
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return pct(0.50), pct(0.90), pct(0.99), float64(sum) / float64(len(s)) / 1e6
}

// residentBytes reads VmRSS from /proc/self/status (Linux only).
func residentBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n * 1024, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/self/status")
}
