package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/nn"
	"github.com/lcnet/lcnet/zoo"
)

// imageBench is one --image file's result in --json output: the whole
// per-image path, and its two halves' medians.
type imageBench struct {
	Image        string  `json:"image"`
	Width        int     `json:"width"`
	Height       int     `json:"height"`
	Bytes        int     `json:"bytes"`
	Iterations   int     `json:"iterations"`
	P50ms        float64 `json:"p50_ms"`
	P90ms        float64 `json:"p90_ms"`
	P99ms        float64 `json:"p99_ms"`
	MeanMs       float64 `json:"mean_ms"`
	ImagesPerSec float64 `json:"images_per_sec"`
	// PrepP50ms is decode + preprocess, NetP50ms the network alone.
	PrepP50ms float64 `json:"prep_p50_ms"`
	NetP50ms  float64 `json:"net_p50_ms"`
}

// benchImages times decode + preprocess + network, one image at a time
// as a server request does, for each file in turn, splitting duration
// between them after a warm-up of each.
func benchImages(ctx context.Context, m zoo.Manifest, model *nn.Model, mode imaging.DecodeMode, paths []string, duration, warmup time.Duration) ([]imageBench, error) {
	pre, err := imaging.NewPreprocessor(m.Preprocess)
	if err != nil {
		return nil, fmt.Errorf("model %s:%s: %w", m.Name, m.Version, err)
	}
	per := duration / time.Duration(len(paths))
	var buf []float32
	out := make([]imageBench, 0, len(paths))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		_, w, h, err := imaging.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		one := func() (prep, net time.Duration, err error) {
			t0 := time.Now()
			x, th, tw, err := pre.PreprocessEncoded(ctx, data, imaging.DecodeOptions{Mode: mode, Parallel: true}, buf)
			if err != nil {
				return 0, 0, fmt.Errorf("%s: %w", path, err)
			}
			buf = x
			t1 := time.Now()
			if _, err := model.Infer(ctx, x, 1, th, tw); err != nil {
				return 0, 0, err
			}
			return t1.Sub(t0), time.Since(t1), nil
		}
		warmEnd := time.Now().Add(warmup / time.Duration(len(paths)))
		for i := 0; i < 2 || time.Now().Before(warmEnd); i++ {
			if _, _, err := one(); err != nil {
				return nil, err
			}
		}
		var lat, preps, nets []time.Duration
		start := time.Now()
		for time.Since(start) < per || len(lat) < 5 {
			prep, net, err := one()
			if err != nil {
				return nil, err
			}
			lat, preps, nets = append(lat, prep+net), append(preps, prep), append(nets, net)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
		r := imageBench{Image: filepath.Base(path), Width: w, Height: h, Bytes: len(data), Iterations: len(lat),
			ImagesPerSec: float64(len(lat)) / time.Since(start).Seconds()}
		r.P50ms, r.P90ms, r.P99ms, r.MeanMs = latencyStats(lat)
		r.PrepP50ms, _, _, _ = latencyStats(preps)
		r.NetP50ms, _, _, _ = latencyStats(nets)
		out = append(out, r)
	}
	return out, nil
}

func printImageBench(w io.Writer, rs []imageBench) {
	for _, r := range rs {
		fmt.Fprintf(w, "%s  %dx%d  %s\n", r.Image, r.Width, r.Height, humanBytes(int64(r.Bytes)))
		fmt.Fprintf(w, "  per image  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  (%d runs, %.1f images/s)\n", r.P50ms, r.P90ms, r.P99ms, r.Iterations, r.ImagesPerSec)
		fmt.Fprintf(w, "  p50 decode+preprocess %.2f ms  network %.2f ms\n", r.PrepP50ms, r.NetP50ms)
	}
}
