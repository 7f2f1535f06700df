package api

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/lcnet/lcnet/internal/testimage"
)

// heapPeak samples the live heap objects every millisecond until stop
// is called, which returns the largest sample over the heap at the start.
// runtime/metrics reads without stopping the world, so sampling does not
// slow the work it measures.
func heapPeak() (stop func() uint64) {
	runtime.GC()
	sample := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		rtmetrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	base := read()
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var p uint64
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			p = max(p, read())
			select {
			case <-done:
				peak <- p
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		return max(<-peak, base) - base
	}
}

// post sends body and reads the answer; safe in goroutines (no t.Fatal).
func post(ctx context.Context, url, ct string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", ct)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// TestDecodeBombRefused sends files of a few hundred KB that decode to
// gigabytes within the 64 Mpx cap: the server refuses them from the
// header (413) without the heap growing.
func TestDecodeBombRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("making the bombs streams 2 x 400 MB through zlib (3 s)")
	}
	_, ts := newTestServer(t, newFake("m"), nil)
	for name, bomb := range map[string][]byte{
		"png 16-bit interlaced 8000x8000": testimage.PNG16Bomb(8000, 8000, true),
		"tiff 16-bit deflate 8000x8000":   testimage.TIFF16Bomb(8000, 8000),
	} {
		t.Run(name, func(t *testing.T) {
			stop := heapPeak()
			start := time.Now()
			status, body, err := post(t.Context(), ts.URL+"/v1/models/m/classify", "application/octet-stream", bomb)
			peak := stop()
			t.Logf("%d KB file: %d in %v, heap peak +%d MiB", len(bomb)>>10, status, time.Since(start), peak>>20)
			if err != nil {
				t.Fatal(err)
			}
			if status != http.StatusRequestEntityTooLarge {
				t.Errorf("status %d, want 413: %s", status, body)
			}
			if peak > 64<<20 {
				t.Errorf("heap grew by %d MiB refusing a bomb", peak>>20)
			}
		})
	}
}

// parallelBombs sends n bombs at once to a server with the given decode
// budget, and one small healthy image while they are in flight; it
// returns the heap's peak growth and fails the test if the healthy
// request does not get 200 within healthyWithin.
func parallelBombs(t *testing.T, mod func(*Config), bombs [][]byte, healthyWithin time.Duration) uint64 {
	t.Helper()
	// A lower GC target makes the heap track what is live, which is what
	// the budget bounds, rather than the garbage a collection leaves.
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	_, ts := newTestServer(t, newFake("m"), mod)
	url := ts.URL + "/v1/models/m/classify"
	healthy := solid(t, "png", red, 64, 64)
	stop := heapPeak()
	var wg sync.WaitGroup
	statuses := make([]int, len(bombs))
	for i, b := range bombs {
		wg.Go(func() {
			status, body, err := post(t.Context(), url, "image/png", b)
			if err != nil {
				t.Errorf("bomb %d: %v", i, err)
			}
			if status != 200 && status != http.StatusRequestEntityTooLarge {
				t.Errorf("bomb %d: %d %s", i, status, body)
			}
			statuses[i] = status
		})
	}
	time.Sleep(100 * time.Millisecond) // the bombs are decoding
	start := time.Now()
	status, body, err := post(t.Context(), url, "image/png", healthy)
	took := time.Since(start)
	if err != nil || status != 200 {
		t.Errorf("healthy request during the bombs: %d %v %s", status, err, body)
	} else if took > healthyWithin {
		t.Errorf("healthy request took %v during the bombs, want under %v", took, healthyWithin)
	}
	wg.Wait()
	peak := stop()
	t.Logf("%d bombs: statuses %v; healthy request %d in %v; heap peak +%d MiB", len(bombs), statuses, status, took.Round(time.Millisecond), peak>>20)
	return peak
}

// TestDecodeBudgetParallel is the fast variant of the Kubernetes test
// below: 16 bombs that each fit the per-image limit arrive at once, and
// the shared budget lets them decode only as far as it reaches.
func TestDecodeBudgetParallel(t *testing.T) {
	bomb := testimage.PNG16Bomb(1000, 1000, true) // about 16 MB to decode
	bombs := make([][]byte, 16)
	for i := range bombs {
		bombs[i] = bomb
	}
	const budget = 24 << 20
	peak := parallelBombs(t, func(c *Config) { c.DecodeBudget = budget }, bombs, 5*time.Second)
	// At most one bomb's bytes are live (three quarters of the budget is
	// 18 MiB), plus what a 25% GC target lets through.
	if limit := uint64(budget) * 3 / 2; peak > limit {
		t.Errorf("heap grew by %d MiB under 16 bombs; the %d MiB decode budget allows %d MiB", peak>>20, budget>>20, limit>>20)
	}
}

// TestDecodeBudgetKubernetes checks the manifest's 1 GiB limit under 16
// bombs at once with the default budget: 8 refused from their header, 8
// just under the per-image limit that must take turns. A few seconds
// of both cores; -short (the race run) skips it.
func TestDecodeBudgetKubernetes(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 4 GB of bombs; skipped in -short")
	}
	over := testimage.PNG16Bomb(8000, 8000, true)   // 1 GB to decode
	under := testimage.PNG16Bomb(5600, 5600, false) // 240 MiB to decode
	var bombs [][]byte
	for range 8 {
		bombs = append(bombs, over, under)
	}
	peak := parallelBombs(t, func(c *Config) { c.RequestTimeout = 2 * time.Minute }, bombs, 10*time.Second)
	const limit = 512 << 20
	if peak > limit {
		t.Errorf("heap grew by %d MiB under 16 bombs, want under %d MiB (the pod's limit is 1 GiB)", peak>>20, limit>>20)
	}
}

// TestDecodeStopsWhenClientLeaves checks that a client that hangs up
// mid-decode frees the server's budget (and the CPU) within a read of the
// decoder, rather than when the whole image has been inflated.
func TestDecodeStopsWhenClientLeaves(t *testing.T) {
	s, ts := newTestServer(t, newFake("m"), nil)
	bomb := testimage.PNG16Bomb(2500, 2500, true) // 100 MB, over a second to decode
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = post(ctx, ts.URL+"/v1/models/m/classify", "image/png", bomb)
	}()
	b := s.decodeBudget
	// Wait until the decode holds its bytes.
	for b.large.TryAcquire(b.largeMax) {
		b.large.Release(b.largeMax)
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	left := time.Now()
	for !b.large.TryAcquire(b.largeMax) {
		if time.Since(left) > 5*time.Second {
			t.Fatal("the budget is still held 5 s after the client left")
		}
		time.Sleep(time.Millisecond)
	}
	b.large.Release(b.largeMax)
	freed := time.Since(left)
	<-done
	t.Logf("budget freed %v after the client left", freed.Round(time.Millisecond))
	if freed > time.Second {
		t.Errorf("the decode went on for %v after the client left", freed)
	}
}

func TestDefaultDecodeBudget(t *testing.T) {
	for _, tc := range []struct {
		limit, want int64
	}{
		{0, 384 << 20},
		{math.MaxInt64, 384 << 20}, // debug.SetMemoryLimit's "no limit"
		{4 << 30, 384 << 20},
		{900 << 20, 360 << 20}, // deploy/kubernetes: GOMEMLIMIT 900MiB
		{450 << 20, 180 << 20},
	} {
		if got := DefaultDecodeBudget(tc.limit); got != tc.want {
			t.Errorf("DefaultDecodeBudget(%d MiB) = %d MiB, want %d MiB", tc.limit>>20, got>>20, tc.want>>20)
		}
		// The per-image limit follows from the budget: under the pod's
		// limit a 64 Mpx 8-bit PNG (256 MiB) still decodes.
		s, err := New(Config{backend: newFake(), DecodeBudget: DefaultDecodeBudget(tc.limit)})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if tc.limit >= 900<<20 && s.cfg.MaxDecodeBytes != 256<<20 {
			t.Errorf("limit %d MiB: MaxDecodeBytes %d MiB, want 256", tc.limit>>20, s.cfg.MaxDecodeBytes>>20)
		}
	}
}

// TestDecodeBudgetSpareCore checks when a decode may take a second core:
// only while the decodes in flight leave half the cores to it.
func TestDecodeBudgetSpareCore(t *testing.T) {
	for _, tc := range []struct {
		procs, held int
		want        bool
	}{
		{1, 1, false},
		{2, 1, true}, {2, 2, false},
		{4, 1, true}, {4, 2, true}, {4, 3, false},
		{8, 4, true}, {8, 5, false},
	} {
		b := newDecodeBudget(1<<20, 2*tc.procs, tc.procs)
		var releases []func()
		for range tc.held {
			release, err := b.acquire(t.Context(), 1)
			if err != nil {
				t.Fatal(err)
			}
			releases = append(releases, release)
		}
		if got := b.spareCore(); got != tc.want {
			t.Errorf("%d cores, %d decodes: spareCore %v, want %v", tc.procs, tc.held, got, tc.want)
		}
		for _, r := range releases {
			r()
		}
	}
}
