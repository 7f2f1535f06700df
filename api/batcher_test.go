package api

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
)

func TestFloatsReuse(t *testing.T) {
	for _, tc := range []struct {
		name         string
		first, c     int // the buffer put back: length and capacity asked
		next         int // the length asked next
		wantSameBase bool
	}{
		{"same size", 100, 100, 100, true},
		{"smaller", 100, 100, 40, true},
		{"capacity hint covers a larger one", 10, 160, 150, true},
		{"too small is dropped", 100, 100, 101, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f floats
			a := f.get(tc.first, tc.c)
			if len(a) != tc.first || cap(a) < tc.c {
				t.Fatalf("get(%d, %d): len %d cap %d", tc.first, tc.c, len(a), cap(a))
			}
			f.put(a)
			b := f.get(tc.next, 0)
			if len(b) != tc.next {
				t.Fatalf("get(%d): len %d", tc.next, len(b))
			}
			// sync.Pool may drop what it holds at any GC; only the
			// negative case is certain.
			if same := &a[:1][0] == &b[:1][0]; same && !tc.wantSameBase {
				t.Errorf("got back a buffer of capacity %d for %d values", cap(a), tc.next)
			}
		})
	}
}

// gateRunner blocks each call until gate is closed, then reports through
// seen whether x still holds only want.
type gateRunner struct {
	started chan struct{}
	gate    chan struct{}
	seen    chan error
	want    float32
}

func (r *gateRunner) close() {}

func (r *gateRunner) infer(_ context.Context, imgs [][]float32, _, _ int, _ bool) (*output, error) {
	n := len(imgs)
	r.started <- struct{}{}
	<-r.gate
	var err error
	for i, v := range imgs[0] {
		if v != r.want {
			err = fmt.Errorf("x[%d] = %v while the network read it, want %v", i, v, r.want)
			break
		}
	}
	r.seen <- err
	return &output{N: n, Classes: 1, Logits: make([]float32, n), Probabilities: make([]float32, n)}, nil
}

// TestBatcherKeepsPooledInputWhileRunning: a request that gives up while
// its batch runs returns at once, but its tensor goes back to the pool
// only after the network has read it, or another request would overwrite
// the batch's input.
func TestBatcherKeepsPooledInputWhileRunning(t *testing.T) {
	const per = 3 * 32 * 32
	r := &gateRunner{started: make(chan struct{}, 1), gate: make(chan struct{}), seen: make(chan error, 1), want: 7}
	cfg := Config{MaxBatch: 16, QueueSize: 4, BatchParallel: 1, RequestTimeout: time.Minute}
	b := newBatcher(context.Background(), "m:1", r, cfg, newMetrics())
	defer b.close()

	x := b.inputs.get(per, per)
	for i := range x {
		x[i] = r.want
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := b.infer(ctx, x, 1, 32, 32, true)
		errc <- err
	}()
	<-r.started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("infer after cancel: %v, want context.Canceled", err)
	}
	// Every buffer the pool hands out now is written, as a new request
	// would; none may be the one the network is reading.
	for range 8 {
		y := b.inputs.get(per, per)
		for i := range y {
			y[i] = 0
		}
		b.inputs.put(y)
		runtime.GC()
	}
	close(r.gate)
	if err := <-r.seen; err != nil {
		t.Fatal(err)
	}
}

// serialRunner records each call's serial flag, and blocks the calls
// while hold is open.
type serialRunner struct {
	hold    chan struct{}
	started chan bool
}

func (r *serialRunner) close() {}

func (r *serialRunner) infer(_ context.Context, imgs [][]float32, _, _ int, serial bool) (*output, error) {
	n := len(imgs)
	r.started <- serial
	<-r.hold
	return &output{N: n, Classes: 1, Logits: make([]float32, n), Probabilities: make([]float32, n)}, nil
}

// TestBatcherSerialUnderLoad: a batch runs its layers split over the
// model's threads only when nothing else wants the cores: not while
// another batch runs.
func TestBatcherSerialUnderLoad(t *testing.T) {
	r := &serialRunner{hold: make(chan struct{}), started: make(chan bool, 2)}
	cfg := Config{MaxBatch: 16, QueueSize: 4, BatchParallel: 2, RequestTimeout: time.Minute}
	b := newBatcher(context.Background(), "m:1", r, cfg, newMetrics())
	defer b.close()
	x := make([]float32, 3*32*32)
	done := make(chan error, 2)
	send := func() {
		go func() {
			_, err := b.infer(context.Background(), x, 1, 32, 32, false)
			done <- err
		}()
	}
	send()
	if serial := <-r.started; serial {
		t.Error("a lone request ran serial: its latency would double on an idle server")
	}
	send()
	if serial := <-r.started; !serial {
		t.Error("a batch beside a running one split its layers")
	}
	close(r.hold)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
