package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lcnet/lcnet/internal/imaging"
	"github.com/lcnet/lcnet/internal/testimage"
	"github.com/lcnet/lcnet/nn"
)

// TestLoad is the 32-client load check, run on demand (it takes the
// machine for a while):
//
//	LCNET_LOADTEST=20s go test -run TestLoad -v ./api
//
// It measures the network alone the way "lcnet bench" does (a loop of
// Infer calls on a preprocessed batch, batch 1 and batch MaxBatch), then
// 32 clients posting a PNG text line to the real router over loopback for
// the same duration. It fails if any request fails other than by 429/503,
// or if the server reaches under 80% of the better direct figure. Timings
// on a shared machine are noisy; run it when the machine is quiet.
func TestLoad(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("LCNET_LOADTEST"))
	if err != nil || d <= 0 {
		t.Skip("set LCNET_LOADTEST=20s to run the 32-client load test")
	}
	const clients = 32
	z, _ := realZoo(t, map[string]string{textlineName: textlinePath(t)})
	// Zero keeps the defaults; the variables let one compare settings.
	maxBatch, _ := strconv.Atoi(os.Getenv("LCNET_LOADTEST_BATCH"))
	parallel, _ := strconv.Atoi(os.Getenv("LCNET_LOADTEST_PARALLEL"))
	ts, be := serveZoo(t, z, func(c *Config) { c.MaxBatch, c.BatchParallel = maxBatch, parallel })
	m, err := be.resolve(context.Background(), textlineName, "")
	if err != nil {
		t.Fatal(err)
	}
	img := mustEncode(t, "png", testimage.TextLine(320, 48, "Invoice total: 1,234.56 EUR"))

	// The network alone, as lcnet bench runs it.
	model, err := nn.Load(m.Arch, realTensors(t, be, m), nn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := imaging.Decode(img, 0)
	one, h, w, err := imaging.Preprocess(dec, m.Preprocess, nil)
	if err != nil {
		t.Fatal(err)
	}
	direct := map[int]float64{}
	for _, batch := range []int{1, 16} {
		x := make([]float32, 0, batch*len(one))
		for range batch {
			x = append(x, one...)
		}
		n, start := 0, time.Now()
		for time.Since(start) < d/2 {
			if _, err := model.Infer(context.Background(), x, batch, h, w); err != nil {
				t.Fatal(err)
			}
			n += batch
		}
		direct[batch] = float64(n) / time.Since(start).Seconds()
		t.Logf("direct nn, batch %2d: %.0f images/s", batch, direct[batch])
	}
	model.Close()

	// The server under 32 clients.
	var (
		ok, limited atomic.Int64
		failures    sync.Map
		peakHeap    atomic.Uint64
		wg          sync.WaitGroup
	)
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > peakHeap.Load() {
					peakHeap.Store(ms.HeapAlloc)
				}
			}
		}
	}()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for time.Since(start) < d {
				res, err := hc.Post(ts.URL+"/v1/models/"+textlineName+"/classify?top_k=1", "image/png", bytes.NewReader(img))
				if err != nil {
					failures.Store(err.Error(), true)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				switch res.StatusCode {
				case 200:
					ok.Add(1)
				case 429, 503:
					limited.Add(1)
					time.Sleep(10 * time.Millisecond)
				default:
					failures.Store(fmt.Sprint("status ", res.StatusCode), true)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	rate := float64(ok.Load()) / elapsed.Seconds()
	best := max(direct[1], direct[16])
	t.Logf("server, %d clients, %v: %d ok, %d refused (429/503), %.0f images/s = %.0f%% of the direct best; peak heap %.1f MiB",
		clients, d, ok.Load(), limited.Load(), rate, 100*rate/best, float64(peakHeap.Load())/(1<<20))
	failures.Range(func(k, _ any) bool {
		t.Errorf("failed request: %v", k)
		return true
	})
	if rate < 0.8*best {
		t.Errorf("server throughput %.0f images/s is under 80%% of the network's %.0f", rate, best)
	}
}
