package jpeg

import (
	"sync"
	"sync/atomic"
)

// Below scale 8 a block's samples need all of its coefficients, and the
// IDCT of the ones the caller reads costs about half as much as the
// Huffman decoding. A second reader that recorded the coefficients of
// every block it decodes (it cannot tell which ones are needed before it
// knows where it is) wrote megabytes that the calling goroutine then had
// to read back, and did not beat the pipeline. So below scale 8 the second
// reader indexes instead: it walks the codes of its part of the scan as
// the scale-8 one does, without storing coefficients, and every markMCUs
// MCUs it saves its bit reader and its running DC predictions (a mark).
//
// The calling goroutine decodes from the start, as the serial decode does.
// At its first MCU that starts where a mark does, it knows where every
// mark is in the image and how far each mark's DC predictions are off (one
// constant per component, as for the scale-8 records). From there it
// decodes, for each MCU row, the MCUs the caller reads (a run), from the
// last mark before them, following the indexer as it walks on; once the
// indexer has walked to the end, it takes runs too. Blocks outside the
// runs are not decoded twice, and the indexer has already checked them.
// The planes and the error are the serial decode's: the indexer's first
// error after the hand-over, or the truncation check at the end of an MCU,
// is the scan's, and past a place where the indexer stopped (its budget,
// cancellation) the rest is decoded serially from its last mark.
//
// The price is the second walk over the runs' codes: on the 5120x2880
// wallpaper an exact decode takes about 15% more CPU than the pipeline,
// for 10% less time (BenchmarkSplit).

const (
	// markMCUs is how many MCUs apart the indexer saves its state. A run
	// starts on average markMCUs/2 MCUs after its mark, decoded again
	// without their samples; a mark costs markSize bytes.
	markMCUs = 8
	// markSize is the size of a mark.
	markSize = 96
	// splitAtIndex is where the indexer starts, in 64ths of the scan's
	// bytes: the calling goroutine decodes and transforms the part
	// before it, then runs while the indexer walks the rest.
	splitAtIndex = 20
)

// mark is the indexer's state at the start of one of its MCUs.
type mark struct {
	idx   int      // the indexer's block count
	place int64    // bits from the start of the scan
	pred  [4]int32 // the indexer's DC predictions, per component
	r     bitReader
}

// indexBreak is a specBreak of the indexer, which came after its first
// marks marks: a block's mark is saved before the block is decoded, and
// a block that fails is tried again at the next bit with the same index.
type indexBreak struct {
	specBreak
	marks int
}

// indexer is the second reader of a split scan below scale 8. Its marks
// are published by nmarks; its breaks are its own until it closes ended.
type indexer struct {
	d      *decoder // read only, but for the samples of the runs it takes
	lay    mcuLayout
	r      bitReader
	base   int64  // the scan's bits before the indexer's first byte
	end    int    // where the scan's entropy-coded data ends
	limit  int    // blocks the indexer may walk: the whole scan's
	marks  []mark // all it may save; marks[:nmarks] are saved
	nm     int    // the indexer's own count
	nmarks atomic.Int64
	breaks []indexBreak

	notify   chan struct{} // a mark was saved
	ended    chan struct{} // closed when the walk ends
	endOnce  sync.Once
	mapped   chan struct{} // closed at the hand-over
	join     chan struct{} // closed by the calling goroutine: work is set
	joinOnce sync.Once
	work     *runWork
	quit     atomic.Bool
	done     chan struct{}
	panicked any

	// Tests: the indexer waits at a mark half way through its part for
	// the hand-over (or for the decode to end without one), so that
	// runs follow it as it walks the rest.
	park   bool
	parked atomic.Bool
}

// startIndex starts the indexer of a baseline scan whose data starts at
// d.pos, or returns nil when the scan is too short or the budget too
// small to split.
func (d *decoder) startIndex(p *scanParams, nmcu int) *indexer {
	s, end, base, ok := d.splitStart()
	if !ok {
		return nil
	}
	n := nmcu/markMCUs + 2
	if d.maxBytes > 0 {
		n = min(n, int(d.spare/markSize))
	}
	if n < 4 {
		return nil
	}
	ix := &indexer{
		d:      d,
		lay:    d.layout(p),
		base:   base,
		end:    end,
		marks:  make([]mark, n),
		notify: make(chan struct{}, 1),
		ended:  make(chan struct{}),
		mapped: make(chan struct{}),
		join:   make(chan struct{}),
		done:   make(chan struct{}),
		park:   d.splitPark,
	}
	ix.limit = nmcu * ix.lay.bpm
	ix.r.reset(d.data, s)
	d.adopted = false
	go ix.run()
	return ix
}

func (ix *indexer) run() {
	defer close(ix.done)
	defer func() {
		if v := recover(); v != nil {
			ix.panicked = v
			ix.endWalk()
		}
	}()
	ix.walk()
	ix.endWalk()
	<-ix.join
	if w := ix.work; w != nil {
		w.share()
	}
}

func (ix *indexer) endWalk() { ix.endOnce.Do(func() { close(ix.ended) }) }

// walk walks the codes until it stops at an MCU boundary (asked to quit,
// canceled, out of marks or blocks, or after too many misread blocks) or
// the stream ends, and always ends with a break and, for a stop, a mark
// at the same block.
func (ix *indexer) walk() {
	d, r := ix.d, &ix.r
	var (
		idx, phase, errs, mcus int
		pred                   [4]int32
	)
	parkAt := -1
	if ix.park {
		parkAt = r.pos + (ix.end-r.pos)/2
	}
	for {
		if phase == 0 {
			// The last mark is kept for the one saved where it stops.
			if ix.nm+1 >= len(ix.marks) || ix.quit.Load() || idx+ix.lay.bpm > ix.limit ||
				errs > specMaxErrors || mcus%64 == 0 && d.ctx != nil && d.ctx.Err() != nil {
				ix.publish(mark{idx: idx, place: ix.base + r.place(), pred: pred, r: *r})
				ix.breaks = append(ix.breaks, indexBreak{specBreak{at: idx, snap: *r}, ix.nm})
				return
			}
			if mcus%markMCUs == 0 {
				ix.publish(mark{idx: idx, place: ix.base + r.place(), pred: pred, r: *r})
				if parkAt >= 0 && r.pos >= parkAt {
					parkAt = -1
					ix.parked.Store(true)
					ix.signal()
					select {
					case <-ix.mapped:
					case <-ix.join:
					}
				}
			}
		}
		ci := ix.lay.comp[phase]
		c := &d.comp[ci]
		diff, err := skipBlock(r, &d.huff[0][c.dcTab], &d.huff[1][c.acTab])
		pred[ci] += diff
		if err != nil {
			// A misread before the indexer resynchronises: go on as
			// if an MCU started one bit further.
			ix.breaks = append(ix.breaks, indexBreak{specBreak{at: idx, err: err}, ix.nm})
			r.bits(1)
			errs++
			phase = 0
			continue
		}
		idx++
		if phase++; phase == ix.lay.bpm {
			phase = 0
			mcus++
			if r.overrun() {
				ix.breaks = append(ix.breaks, indexBreak{specBreak{at: idx, err: FormatError("truncated entropy-coded data"), end: true}, ix.nm})
				return
			}
		}
	}
}

// publish saves a mark where the calling goroutine can see it.
func (ix *indexer) publish(m mark) {
	ix.marks[ix.nm] = m
	ix.nm++
	ix.nmarks.Store(int64(ix.nm))
	ix.signal()
}

func (ix *indexer) signal() {
	select {
	case ix.notify <- struct{}{}:
	default:
	}
}

// finish stops the indexer, lets it leave the runs, and waits for it.
func (ix *indexer) finish() {
	ix.quit.Store(true)
	ix.joinOnce.Do(func() { close(ix.join) })
	<-ix.done
	if ix.panicked != nil {
		panic(ix.panicked)
	}
}

// walked reports whether the indexer has ended its walk.
func (ix *indexer) walked() bool {
	select {
	case <-ix.ended:
		return true
	default:
		return false
	}
}

// indexScan decodes a baseline scan without restart markers with an
// indexer started, and stops it before returning.
func (d *decoder) indexScan(ix *indexer, nmcu, rowLen int) error {
	defer ix.finish()
	lay := &ix.lay
	var blk [64]int32
	next := 0 // the first mark not passed
	for m := 0; m < nmcu; m++ {
		if d.ctx != nil && m%rowLen == 0 {
			if err := d.ctx.Err(); err != nil {
				return err
			}
		}
		if ix != nil {
			if place := d.bits.place(); place >= ix.base {
				n := int(ix.nmarks.Load())
				if d.splitTest {
					n = ix.waitMarks(place)
				}
				for next < n && ix.marks[next].place < place {
					next++
				}
				switch {
				case next < n && ix.marks[next].place == place:
					return d.handOver(ix, next, m, nmcu, rowLen)
				case next == n && ix.walked():
					ix = nil
				}
			}
		}
		if err := d.serialMCU(lay, m, &blk); err != nil {
			return err
		}
	}
	d.pos = d.bits.pos
	return nil
}

// waitMarks is how tests make the hand-over happen whatever the
// goroutines' speeds: it waits until the indexer has ended its walk, or,
// when it parks, until it has saved a mark at or after place or parked.
// It returns the number of marks saved.
func (ix *indexer) waitMarks(place int64) int {
	for {
		if !ix.park {
			<-ix.ended
			return int(ix.nmarks.Load())
		}
		n := int(ix.nmarks.Load())
		if n > 0 && ix.marks[n-1].place >= place || ix.parked.Load() || ix.walked() {
			return int(ix.nmarks.Load())
		}
		select {
		case <-ix.notify:
		case <-ix.ended:
		}
	}
}

// handOver finishes the scan from MCU m0, which starts where the
// indexer's mark first does.
func (d *decoder) handOver(ix *indexer, first, m0, nmcu, rowLen int) error {
	d.adopted = true
	w := &runWork{
		d:      d,
		ix:     ix,
		first:  first,
		m0:     m0,
		nmcu:   nmcu,
		rowLen: rowLen,
		runs:   d.runs(&ix.lay, m0, nmcu, rowLen),
	}
	w.tail.Store(int64(nmcu))
	for i := range w.corr {
		w.corr[i] = d.comp[i].dcPred - ix.marks[first].pred[i]
	}
	ix.work = w
	ix.joinOnce.Do(func() { close(ix.join) })
	close(ix.mapped)
	w.share()
	<-ix.done
	if ix.panicked != nil {
		panic(ix.panicked)
	}
	lim, err := w.final()
	if err != nil {
		return err
	}
	if w.err != nil {
		return w.err
	}
	if lim == nmcu {
		d.pos = ix.end
		return nil
	}
	// The indexer stopped early: decode the rest serially from its last
	// mark before the first run not taken.
	from := min(int(w.tail.Load()), lim)
	k := w.nmarks - 1
	for k > first && w.mcu(k) > from {
		k--
	}
	r, pred := w.restore(k)
	if err := d.decodeMCUs(&r, &pred, &ix.lay, w.mcu(k), from, nmcu, rowLen); err != nil {
		return err
	}
	d.pos = r.pos
	return nil
}

// runWork is the runs of MCUs from m0 on that the caller reads, decoded
// from the indexer's marks by whoever takes them.
type runWork struct {
	d      *decoder
	ix     *indexer
	first  int // the mark MCU m0 starts at
	m0     int
	nmcu   int
	rowLen int
	corr   [4]int32
	runs   [][2]int
	next   atomic.Int64
	tail   atomic.Int64 // the first MCU of the first run not taken for want of marks

	mu     sync.Mutex
	err    error
	failed atomic.Bool

	settle sync.Once
	lim    int   // past the indexer's walk, once it ended
	lerr   error // the scan's error, from the indexer's breaks
	nmarks int   // its marks then
}

func (w *runWork) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.failed.Store(true)
}

// mcu is the MCU mark k starts, counting from the hand-over's mark.
// Marks after it are markMCUs apart, but for one where the indexer
// stopped.
func (w *runWork) mcu(k int) int {
	return w.m0 + (w.ix.marks[k].idx-w.ix.marks[w.first].idx)/w.ix.lay.bpm
}

// restore returns mark k's reader and its DC predictions, corrected.
func (w *runWork) restore(k int) (bitReader, [4]int32) {
	mk := &w.ix.marks[k]
	pred := mk.pred
	for i := range pred {
		pred[i] += w.corr[i]
	}
	return mk.r, pred
}

// final reads, once the indexer has ended its walk, how far it walked
// without stopping early (the MCU after, or nmcu) and the scan's error
// if it walked into one.
func (w *runWork) final() (int, error) {
	w.settle.Do(func() {
		ix := w.ix
		bpm := ix.lay.bpm
		at := ix.marks[w.first].idx
		kEnd := at + (w.nmcu-w.m0)*bpm // the indexer's block past the scan's last
		w.lim, w.nmarks = w.nmcu, int(ix.nmarks.Load())
		for i := range ix.breaks {
			b := &ix.breaks[i]
			if b.marks <= w.first {
				continue // misread before the indexer resynchronised
			}
			switch {
			case b.err != nil:
				if b.at < kEnd || b.at == kEnd && b.end {
					w.lerr = b.err
				}
			case b.at == kEnd && b.snap.overrun():
				w.lerr = FormatError("truncated entropy-coded data")
			case b.at < kEnd:
				w.lim = w.m0 + (b.at-at)/bpm
			}
			break
		}
	})
	return w.lim, w.lerr
}

// covered waits until the indexer has walked past MCU b, and reports
// whether it did: not when it stopped before b or walked into an error.
// Only the calling goroutine waits: the indexer takes runs once it has
// ended its walk.
func (w *runWork) covered(b int) bool {
	ix := w.ix
	for {
		if ix.walked() {
			lim, err := w.final()
			return err == nil && b <= lim
		}
		if n := int(ix.nmarks.Load()); n-1 > w.first && w.mcu(n-1) >= b {
			return true
		}
		select {
		case <-ix.notify:
		case <-ix.ended:
		}
	}
}

// share decodes runs until none is left, one failed, or the next is past
// where the indexer has stopped.
func (w *runWork) share() {
	for !w.failed.Load() {
		i := int(w.next.Add(1) - 1)
		if i >= len(w.runs) {
			return
		}
		a, b := w.runs[i][0], w.runs[i][1]
		if !w.covered(b) {
			lower(&w.tail, int64(a))
			return
		}
		if err := w.decode(a, b); err != nil {
			w.fail(err)
			return
		}
	}
}

// decode decodes MCUs a to b-1 from the last mark before a.
func (w *runWork) decode(a, b int) error {
	// Marks after the hand-over's are markMCUs apart but for the last.
	n := int(w.ix.nmarks.Load())
	k := min(w.first+(a-w.m0)/markMCUs, n-1)
	for k > w.first && w.mcu(k) > a {
		k--
	}
	r, pred := w.restore(k)
	return w.d.decodeMCUs(&r, &pred, &w.ix.lay, w.mcu(k), a, b, w.rowLen)
}

// decodeMCUs decodes MCUs from to b-1 from r, with DC predictions pred,
// as the serial decode does, but writes the samples of MCUs a and up only.
func (d *decoder) decodeMCUs(r *bitReader, pred *[4]int32, lay *mcuLayout, from, a, b, rowLen int) error {
	var blk [64]int32
	var buf [63]int32
	bs := 8 / d.scale
	for m := from; m < b; m++ {
		if d.ctx != nil && m%rowLen == 0 {
			if err := d.ctx.Err(); err != nil {
				return err
			}
		}
		for ph := 0; ph < lay.bpm; ph++ {
			c, bx, by := d.at(lay, m, ph)
			dc, ac := &d.huff[0][c.dcTab], &d.huff[1][c.acTab]
			rows := c.needed(bx, by)
			if m < a || rows == 0 || d.scale == 8 {
				diff, err := skipBlock(r, dc, ac)
				pred[c.index] += diff
				if err != nil {
					return err
				}
				if m >= a && rows != 0 {
					c.pix[by*c.stride+bx] = clamp((pred[c.index]*d.quant[c.tq][0]+4)>>3 + 128)
				}
				continue
			}
			r.need32()
			s := r.huff(dc)
			if uint32(s) > 15 {
				return FormatError("bad DC Huffman code")
			}
			if s > 0 {
				pred[c.index] += extend(r.take(uint(s)), int(s))
			}
			n, last, err := readAC(r, ac, buf[:])
			if err != nil {
				return err
			}
			q := &d.quant[c.tq]
			blk = [64]int32{}
			blk[0] = pred[c.index] * q[0]
			for _, e := range buf[:n] {
				z := unzig[e&63]
				blk[z] = e >> 6 * q[z]
			}
			idct(d.scale, &blk, last, c.pix[by*bs*c.stride+bx*bs:], c.stride, rows)
		}
		if r.overrun() {
			return FormatError("truncated entropy-coded data")
		}
	}
	return nil
}

// runs lists, for each MCU row from MCU m0 to m1-1, the MCUs from the
// first to the last that hold a block whose samples are needed.
func (d *decoder) runs(lay *mcuLayout, m0, m1, rowLen int) [][2]int {
	// Per component of the scan: its blocks per MCU across and down,
	// and the first and last MCU column with a needed block column.
	type span struct {
		c          *component
		h, v       int
		first, end int
	}
	var spans []span
	for ph := 0; ph < lay.bpm; ph++ {
		ci := int(lay.comp[ph])
		if len(spans) > 0 && spans[len(spans)-1].c.index == ci {
			continue
		}
		c := &d.comp[ci]
		s := span{c: c, h: c.h, v: c.v, first: rowLen, end: 0}
		if lay.cw > 0 {
			s.h, s.v = 1, 1
		}
		for mx := 0; mx < rowLen; mx++ {
			for i := 0; i < s.h; i++ {
				if c.colMask == nil || c.colMask[mx*s.h+i] != 0 {
					s.first, s.end = min(s.first, mx), mx+1
				}
			}
		}
		spans = append(spans, s)
	}
	var out [][2]int
	for row := m0 / rowLen; row*rowLen < m1; row++ {
		a, b := rowLen, 0
		for _, s := range spans {
			for j := 0; j < s.v; j++ {
				if s.c.rowMask == nil || s.c.rowMask[row*s.v+j] != 0 {
					a, b = min(a, s.first), max(b, s.end)
				}
			}
		}
		a, b = max(row*rowLen+a, m0), min(row*rowLen+b, m1)
		if a < b {
			out = append(out, [2]int{a, b})
		}
	}
	return out
}
