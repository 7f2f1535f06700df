package jpeg

import (
	"sync"

	"github.com/lcnet/lcnet/internal/par"
)

// A progressive JPEG is a dozen scans, and most of them are one
// component's AC coefficients: the luma's in three or four scans, each
// chroma component's in two. Scans of different components, and a
// component's DC scans and its AC scans, write different coefficients, so
// they do not depend on one another; only the scans that write the same
// coefficients must run in file order. With Options.Parallel the scans of
// a large progressive image are not decoded as they are parsed: each is
// recorded with where its data starts and the Huffman tables it reads, as
// they are then, and once the file is parsed two goroutines decode them,
// each taking the first scan whose predecessors are done. On the
// wallpapers the luma's chain of scans is about half of the bytes, so the
// scans take a little over half the time. The coefficients and errors are
// the serial decode's: a scan's outcome depends only on its data, its
// tables and the scans before it that it depends on, and the first
// failing scan in file order, or else the parser's error, is the one
// returned.

const (
	// schedTables is how many copies of Huffman tables the recorded
	// scans may hold (each about 20 KB); a file that defines more before
	// its scans run has the scans recorded so far decoded first.
	schedTables = 32
	// huffTableSize is the size of a huffTable, rounded up.
	huffTableSize = 20 << 10
)

// scanJob is a recorded scan.
type scanJob struct {
	p    scanParams
	pos  int         // where its entropy-coded data starts
	ri   int         // the restart interval then
	tabs [4][2]uint8 // per component, the DC and AC table ids parseSOS set
	huff []scanTable // the tables it reads, as they were
	deps []int       // the earlier jobs it must wait for
	err  error
	st   uint8 // jobPending, jobRunning or jobDone
}

type scanTable struct {
	class, id uint8
	t         *huffTable
}

const (
	jobPending = iota
	jobRunning
	jobDone
)

// scanSched holds the scans recorded and not yet decoded.
type scanSched struct {
	jobs   []scanJob
	cur    [2][4]*huffTable // the copy of each current table, if made
	copies int              // copies held by jobs
	made   int              // copies made in all (tests)
	peak   int              // most copies held at once (tests)
	last   [8]int           // per component, the last job writing its DC (2c) or AC (2c+1), plus one
	limit  int              // copies before the jobs recorded are run
	w      [2]*decoder      // the decoders that run them, made once
}

// wantSched says whether the scans are recorded for the scheduler: a large
// progressive image decoded with Options.Parallel, whose table copies fit
// in what MaxBytes leaves.
func (d *decoder) wantSched(spare int64) bool {
	return d.parallel && d.progressive && int64(d.width)*int64(d.height) >= d.parallelMin &&
		(d.maxBytes <= 0 || spare >= int64(d.schedTables)*huffTableSize)
}

// deferScan records the scan p, whose data starts at d.pos, and moves
// d.pos to the marker after its data.
func (d *decoder) deferScan(p *scanParams) error {
	s := d.sched
	job := scanJob{p: *p, pos: d.pos, ri: d.ri}
	refs := 0
	for i := 0; i < p.ns; i++ {
		c := &d.comp[p.comps[i]]
		job.tabs[p.comps[i]] = [2]uint8{c.dcTab, c.acTab}
		if p.ss == 0 && p.ah == 0 {
			refs += s.ref(d, &job, 0, c.dcTab)
		}
		if p.ss > 0 {
			refs += s.ref(d, &job, 1, c.acTab)
		}
		key := 2 * p.comps[i]
		if p.ss > 0 {
			key++
		}
		if j := s.last[key]; j > 0 {
			job.deps = append(job.deps, j-1)
		}
		s.last[key] = len(s.jobs) + 1
	}
	s.jobs = append(s.jobs, job)
	s.copies += refs
	s.made += refs
	s.peak = max(s.peak, s.copies)
	d.skipEntropy()
	if s.copies >= s.limit {
		return d.runScans()
	}
	return nil
}

// ref makes job read table (class, id) as it is now, copying it once per
// definition, and returns the copies it made.
func (s *scanSched) ref(d *decoder, job *scanJob, class, id uint8) int {
	made := 0
	if s.cur[class][id] == nil {
		t := d.huff[class][id]
		s.cur[class][id] = &t
		made = 1
	}
	job.huff = append(job.huff, scanTable{class, id, s.cur[class][id]})
	return made
}

// tableChanged forgets the copy of a table a DHT segment redefines.
func (s *scanSched) tableChanged(class, id uint8) {
	s.cur[class][id] = nil
}

// runScans decodes the recorded scans on two goroutines and returns the
// error of the first that failed in file order.
func (d *decoder) runScans() error {
	s := d.sched
	if len(s.jobs) == 0 {
		return nil
	}
	var (
		mu   sync.Mutex
		cond = sync.NewCond(&mu)
		cut  = len(s.jobs) // no job from cut on starts: one before it failed
	)
	// pick returns a job ready to run, or -1 when none is left to
	// start; it waits while the ones left wait for running ones.
	pick := func() int {
		for {
			left := false
			for i := 0; i < cut; i++ {
				job := &s.jobs[i]
				if job.st != jobPending {
					continue
				}
				left = true
				ready := true
				for _, j := range job.deps {
					if s.jobs[j].st != jobDone {
						ready = false
						break
					}
				}
				if ready {
					job.st = jobRunning
					return i
				}
			}
			if !left {
				return -1
			}
			cond.Wait()
		}
	}
	work := func(w *decoder) {
		for {
			mu.Lock()
			i := pick()
			mu.Unlock()
			if i < 0 {
				return
			}
			err := w.runJob(&s.jobs[i])
			mu.Lock()
			s.jobs[i].st, s.jobs[i].err = jobDone, err
			if err != nil && i < cut {
				cut = i
			}
			cond.Broadcast()
			mu.Unlock()
		}
	}
	// A goroutine that panics stops the other from starting jobs, so
	// that it does not wait for the job the panic abandoned.
	abandon := func() {
		mu.Lock()
		cut = 0
		cond.Broadcast()
		mu.Unlock()
	}
	if s.w[0] == nil {
		s.w[0], s.w[1] = d.worker(), d.worker()
	}
	w1, w2 := s.w[0], s.w[1]
	par.Two(func() { work(w2) }, func() { work(w1) }, abandon)
	var err error
	for i := range s.jobs {
		if s.jobs[i].err != nil {
			err = s.jobs[i].err
			break
		}
	}
	clear(s.jobs)
	s.jobs = s.jobs[:0]
	s.cur, s.copies, s.last = [2][4]*huffTable{}, 0, [8]int{}
	return err
}

// worker is a decoder for runJob: d's image, its own reader and tables.
// What a scan reads that the parser may change between scans (tables,
// their ids, the restart interval) comes from the job.
func (d *decoder) worker() *decoder {
	w := *d
	w.sched = nil
	return &w
}

// runJob decodes a recorded scan with the tables it was recorded with.
func (w *decoder) runJob(job *scanJob) error {
	for _, t := range job.huff {
		w.huff[t.class][t.id] = *t.t
	}
	for i := 0; i < job.p.ns; i++ {
		ci := job.p.comps[i]
		w.comp[ci].dcTab, w.comp[ci].acTab = job.tabs[ci][0], job.tabs[ci][1]
	}
	w.pos, w.ri = job.pos, job.ri
	return w.decodeScan(job.p)
}
