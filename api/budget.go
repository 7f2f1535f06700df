package api

import (
	"context"
	"math"

	"golang.org/x/sync/semaphore"
)

// defaultDecodeBudget is Config.DecodeBudget's default without a memory
// limit.
const defaultDecodeBudget = 384 << 20

// DefaultDecodeBudget is the decode budget for a process whose Go memory
// limit (GOMEMLIMIT; debug.SetMemoryLimit(-1) reads it) is memLimit:
// 384 MiB, or two fifths of a lower limit. The rest of the limit is for
// the loaded networks, request bodies and the garbage the collector has
// not yet freed; the 1 GiB pod of deploy/kubernetes (GOMEMLIMIT 900MiB)
// gets 360 MiB. memLimit <= 0 or math.MaxInt64 means no limit.
func DefaultDecodeBudget(memLimit int64) int64 {
	if memLimit <= 0 || memLimit == math.MaxInt64 {
		return defaultDecodeBudget
	}
	return min(defaultDecodeBudget, memLimit/5*2)
}

// decodeBudget bounds the memory decoding takes over all requests: each
// image holds its imaging.DecodeCost in bytes from the moment it starts
// decoding until its tensor is made, and at most slots images decode at
// once (the CPU side of the same bound).
//
// The bytes are two pools so that a queue of large images (the bombs a
// hostile client sends, each near the per-image limit) does not stall
// ordinary photos behind it: semaphore.Weighted serves waiters in order,
// so one pool would make a 2 MB JPEG wait for every 200 MB PNG ahead of
// it. Images up to smallMax draw on the small pool, larger ones on the
// large pool; the two add up to the budget.
type decodeBudget struct {
	small, large       *semaphore.Weighted
	smallMax, largeMax int64
	slots              chan struct{}
	procs              int // GOMAXPROCS
}

// newDecodeBudget splits total bytes into a quarter for images up to a
// sixteenth of it and three quarters for the rest.
func newDecodeBudget(total int64, slots, procs int) *decodeBudget {
	smallPool := total / 4
	return &decodeBudget{
		small:    semaphore.NewWeighted(smallPool),
		large:    semaphore.NewWeighted(total - smallPool),
		smallMax: total / 16,
		largeMax: total - smallPool,
		slots:    make(chan struct{}, slots),
		procs:    procs,
	}
}

// spareCore says whether a decode holding a slot may take a second core
// (imaging.DecodeOptions.Parallel): when the decodes in flight, this one
// included, number at most half the cores. A pipelined decode spends
// 10-35% more CPU to finish sooner, which pays only on a core that would
// otherwise idle; under load the same cores serve other requests'
// decodes and inference, and oversubscribing them costs throughput.
func (b *decodeBudget) spareCore() bool {
	return 2*len(b.slots) <= b.procs
}

// acquire waits, until ctx ends, for cost bytes and a decoding slot. cost
// must not exceed largeMax (the caller refuses such images with 413).
func (b *decodeBudget) acquire(ctx context.Context, cost int64) (release func(), err error) {
	pool := b.large
	if cost <= b.smallMax {
		pool = b.small
	}
	cost = max(cost, 1)
	if err := pool.Acquire(ctx, cost); err != nil {
		return nil, err
	}
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		pool.Release(cost)
		return nil, ctx.Err()
	}
	return func() {
		<-b.slots
		pool.Release(cost)
	}, nil
}
