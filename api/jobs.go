package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/lcnet/lcnet/api/client"
)

// errQueueFull is returned by jobQueue.add when the queue is at capacity.
var errQueueFull = errors.New("job queue full")

// keptJobs is how many finished jobs stay visible to GET /v1/jobs/{id}.
const keptJobs = 100

// bgJob is one background task: its wire state under mu, the function that
// does the work and the directory it owns, removed when it ends.
type bgJob struct {
	mu     sync.Mutex
	state  client.Job
	ctx    context.Context
	cancel context.CancelFunc
	dir    string
	work   func(ctx context.Context, j *bgJob) error
}

func (j *bgJob) snapshot() client.Job {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.state
}

func (j *bgJob) update(fn func(*client.Job)) {
	j.mu.Lock()
	fn(&j.state)
	j.mu.Unlock()
}

// jobQueue runs jobs one at a time, in order, with at most size waiting.
type jobQueue struct {
	mu       sync.Mutex
	byID     map[string]*bgJob
	finished []string // ids of finished jobs, oldest first
	waiting  chan *bgJob
	stop     context.CancelFunc
	ctx      context.Context
	done     chan struct{}
}

func newJobQueue(size int) *jobQueue {
	ctx, stop := context.WithCancel(context.Background())
	q := &jobQueue{byID: map[string]*bgJob{}, waiting: make(chan *bgJob, size), ctx: ctx, stop: stop, done: make(chan struct{})}
	go q.loop()
	return q
}

func newJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// add queues a job that will run work; dir is removed when it ends. It
// returns errQueueFull when size jobs already wait.
func (q *jobQueue) add(state client.Job, dir string, work func(ctx context.Context, j *bgJob) error) (*bgJob, error) {
	ctx, cancel := context.WithCancel(q.ctx)
	state.ID, state.State, state.CreatedAt = newJobID(), client.JobQueued, time.Now().UTC()
	j := &bgJob{state: state, ctx: ctx, cancel: cancel, dir: dir, work: work}
	q.mu.Lock()
	defer q.mu.Unlock()
	select {
	case q.waiting <- j:
	default:
		cancel()
		return nil, errQueueFull
	}
	q.byID[j.state.ID] = j
	return j, nil
}

func (q *jobQueue) get(id string) (*bgJob, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	j, ok := q.byID[id]
	return j, ok
}

// cancelJob asks a queued or running job to stop; a queued one is marked
// canceled at once, a running one when its work returns.
func (q *jobQueue) cancelJob(j *bgJob) {
	j.cancel()
	j.update(func(s *client.Job) {
		if s.State == client.JobQueued {
			s.State = client.JobCanceled
		}
	})
}

func (q *jobQueue) loop() {
	defer close(q.done)
	for {
		select {
		case <-q.ctx.Done():
			// Drain what waits, so that their directories go too.
			for {
				select {
				case j := <-q.waiting:
					q.finish(j, context.Canceled)
				default:
					return
				}
			}
		case j := <-q.waiting:
			q.run(j)
		}
	}
}

func (q *jobQueue) run(j *bgJob) {
	if j.ctx.Err() != nil {
		q.finish(j, j.ctx.Err())
		return
	}
	now := time.Now().UTC()
	j.update(func(s *client.Job) { s.State, s.StartedAt = client.JobRunning, &now })
	q.finish(j, j.work(j.ctx, j))
}

func (q *jobQueue) finish(j *bgJob, err error) {
	j.cancel()
	if j.dir != "" {
		os.RemoveAll(j.dir)
	}
	now := time.Now().UTC()
	j.update(func(s *client.Job) {
		s.FinishedAt = &now
		switch {
		case err == nil:
			s.State = client.JobSucceeded
		case errors.Is(err, context.Canceled):
			s.State = client.JobCanceled
		default:
			s.State, s.Error = client.JobFailed, err.Error()
		}
	})
	q.mu.Lock()
	defer q.mu.Unlock()
	q.finished = append(q.finished, j.state.ID)
	for len(q.finished) > keptJobs {
		delete(q.byID, q.finished[0])
		q.finished = q.finished[1:]
	}
}

// close cancels every job and waits for the running one to stop.
func (q *jobQueue) close() {
	q.stop()
	<-q.done
}
