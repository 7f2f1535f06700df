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
// constant per component, as for the scale-8 records), and tells the
// indexer. The indexer, still walking, turns at its next mark into a
// decoder like the serial one and decodes the rest of the scan. The
// calling goroutine decodes the part the indexer walked: for each MCU row,
// the MCUs it reads, from the last mark before them. Blocks outside those
// runs are not decoded twice, and the indexer has already checked them.
//
// If the indexer reaches the end of the scan before the hand-over, the
// runs after it are shared by both goroutines. Either way the planes and
// the error are the serial decode's: the indexer's first error after the
// hand-over, or the truncation check at the end of an MCU, is the scan's.

const (
	// markMCUs is how many MCUs apart the indexer saves its state. A run
	// starts on average markMCUs/2 MCUs after its mark, decoded again
	// without their samples; a mark costs markSize bytes.
	markMCUs = 8
	// markSize is the size of a mark.
	markSize = 96
	// splitAtIndex is where the indexer starts, in 64ths of the scan's
	// bytes: the calling goroutine decodes and transforms the part
	// before it, then the runs of the part the indexer walked until the
	// hand-over, while the indexer decodes the rest.
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

// handover is what the calling goroutine tells the indexer when one of
// its MCUs starts where mark does.
type handover struct {
	mark int // index in marks
	m0   int // the MCU
	corr [4]int32
}

// indexer is the second reader of a split scan below scale 8. Its marks
// are published by nmarks; its breaks, and the fields after answered,
// are its own until it closes answered.
type indexer struct {
	d      *decoder // read only, but for the samples it decodes
	lay    mcuLayout
	r      bitReader
	base   int64 // the scan's bits before the indexer's first byte
	end    int   // where the scan's entropy-coded data ends
	limit  int   // blocks the indexer may walk: the whole scan's
	nmcu   int
	rowLen int

	marks  []mark // all it may save; marks[:nmarks] are saved
	nm     int    // the indexer's own count
	nmarks atomic.Int64
	breaks []indexBreak

	handover atomic.Pointer[handover]
	mapped   chan struct{} // closed with handover set
	answered chan struct{} // closed when the indexer turned or ended its walk
	answer   sync.Once
	turned   int   // the mark it turned at, or -1
	result   error // its decode's error after turning
	pos      int   // where its decode ended

	join     chan struct{} // closed by the calling goroutine: work is set
	joinOnce sync.Once
	work     *runWork
	quit     atomic.Bool
	done     chan struct{}
	panicked any

	// Tests: the indexer waits at a mark half way through its part for
	// the hand-over (or for the decode to end without one), so that it
	// turns there; notify tells the calling goroutine of each new mark.
	park   bool
	parked atomic.Bool
	notify chan struct{}
}

// startIndex starts the indexer of a baseline scan whose data starts at
// d.pos, or returns nil when the scan is too short or the budget too
// small to split.
func (d *decoder) startIndex(p *scanParams, nmcu, rowLen int) *indexer {
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
		d:        d,
		lay:      d.layout(p),
		base:     base,
		end:      end,
		nmcu:     nmcu,
		rowLen:   rowLen,
		marks:    make([]mark, n),
		mapped:   make(chan struct{}),
		answered: make(chan struct{}),
		turned:   -1,
		join:     make(chan struct{}),
		done:     make(chan struct{}),
		park:     d.splitPark,
	}
	if d.splitTest {
		ix.notify = make(chan struct{}, 1)
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
			ix.answerNow()
		}
	}()
	ix.walk()
	ix.answerNow()
	<-ix.join
	if w := ix.work; w != nil {
		w.share()
	}
}

// walk walks the codes until it turns into a decoder at a mark after the
// hand-over and decodes the rest of the scan, or stops at an MCU boundary
// (asked to quit, canceled, out of marks or blocks, or after too many
// misread blocks), or the stream ends. A walk that does not turn ends
// with a break and, for a stop, a mark at the same block.
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
				if h := ix.handover.Load(); h != nil && ix.turn(h, idx, pred) {
					return
				}
			}
		}
		ci := ix.lay.comp[phase]
		c := &d.comp[ci]
		r.need32()
		t := r.huff(&d.huff[0][c.dcTab])
		var err error
		if uint32(t) > 15 {
			err = FormatError("bad DC Huffman code")
		} else {
			if t > 0 {
				pred[ci] += extend(r.take(uint(t)), int(t))
			}
			err = skipAC(r, &d.huff[1][c.acTab])
		}
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

// turn decodes the rest of the scan from the indexer's last mark, which
// starts its block idx, once the hand-over says where that is, unless the
// indexer failed since the hand-over's mark: then the calling goroutine
// takes that error from its breaks.
func (ix *indexer) turn(h *handover, idx int, pred [4]int32) bool {
	if n := len(ix.breaks); n > 0 && ix.breaks[n-1].marks > h.mark {
		return false
	}
	from := h.m0 + (idx-ix.marks[h.mark].idx)/ix.lay.bpm
	for i := range pred {
		pred[i] += h.corr[i]
	}
	ix.turned = ix.nm - 1
	ix.answerNow()
	ix.result = ix.d.decodeMCUs(&ix.r, &pred, &ix.lay, from, from, ix.nmcu, ix.rowLen)
	ix.pos = ix.r.pos
	return true
}

func (ix *indexer) answerNow() { ix.answer.Do(func() { close(ix.answered) }) }

// publish saves a mark where the calling goroutine can see it.
func (ix *indexer) publish(m mark) {
	ix.marks[ix.nm] = m
	ix.nm++
	ix.nmarks.Store(int64(ix.nm))
	ix.signal()
}

func (ix *indexer) signal() {
	if ix.notify != nil {
		select {
		case ix.notify <- struct{}{}:
		default:
		}
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

// ended reports whether the indexer has ended its walk.
func (ix *indexer) ended() bool {
	select {
	case <-ix.answered:
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
				case next == n && ix.ended():
					ix = nil
				}
			}
		}
		for ph := 0; ph < lay.bpm; ph++ {
			c, bx, by := d.at(lay, m, ph)
			if err := d.baselineBlock(c, bx, by, &blk); err != nil {
				return err
			}
		}
		if d.bits.overrun() {
			return FormatError("truncated entropy-coded data")
		}
	}
	d.pos = d.bits.pos
	return nil
}

// waitMarks is how tests make the hand-over happen whatever the
// goroutines' speeds: it waits until the indexer has saved a mark at or
// after place, ended its walk, or, when it parks, parked. It returns the
// number of marks published.
func (ix *indexer) waitMarks(place int64) int {
	for {
		n := int(ix.nmarks.Load())
		if !ix.park {
			<-ix.answered
			return int(ix.nmarks.Load())
		}
		if n > 0 && ix.marks[n-1].place >= place || ix.parked.Load() || ix.ended() {
			return int(ix.nmarks.Load())
		}
		select {
		case <-ix.notify:
		case <-ix.answered:
		}
	}
}

// handOver finishes the scan from MCU m0, which starts where the
// indexer's mark first does.
func (d *decoder) handOver(ix *indexer, first, m0, nmcu, rowLen int) error {
	d.adopted = true
	at := &ix.marks[first]
	h := &handover{mark: first, m0: m0}
	for i := range h.corr {
		h.corr[i] = d.comp[i].dcPred - at.pred[i]
	}
	ix.handover.Store(h)
	close(ix.mapped)
	<-ix.answered
	if ix.turned >= 0 {
		// The indexer decodes from its mark turned on, and then
		// helps with the runs before it.
		mT := m0 + (ix.marks[ix.turned].idx-at.idx)/ix.lay.bpm
		w := d.newRunWork(ix, first, m0, mT, rowLen)
		ix.work = w
		ix.joinOnce.Do(func() { close(ix.join) })
		w.share()
		<-ix.done
		if ix.panicked != nil {
			panic(ix.panicked)
		}
		if w.err != nil {
			return w.err
		}
		if ix.result == nil {
			d.pos = ix.pos
		}
		return ix.result
	}
	return d.shareRest(ix, first, m0, nmcu, rowLen)
}

// shareRest finishes the scan from MCU m0 after the indexer ended its
// walk without turning: it settles the scan's error from the indexer's
// breaks, shares the runs the caller reads with the indexer, and decodes
// serially past a place where the indexer stopped.
func (d *decoder) shareRest(ix *indexer, first, m0, nmcu, rowLen int) error {
	at := &ix.marks[first]
	bpm := ix.lay.bpm
	kEnd := at.idx + (nmcu-m0)*bpm // the indexer's block past the scan's last
	mEnd := nmcu
	stopped := false
	for i := range ix.breaks {
		b := &ix.breaks[i]
		if b.marks <= first {
			continue // misread before the indexer resynchronised
		}
		if b.err != nil {
			if b.at < kEnd || b.at == kEnd && b.end {
				return b.err
			}
		} else if b.at <= kEnd {
			if b.at == kEnd && b.snap.overrun() {
				return FormatError("truncated entropy-coded data")
			}
			stopped, mEnd = true, m0+(b.at-at.idx)/bpm
		}
		break
	}
	w := d.newRunWork(ix, first, m0, mEnd, rowLen)
	ix.work = w
	ix.joinOnce.Do(func() { close(ix.join) })
	w.share()
	<-ix.done
	if ix.panicked != nil {
		panic(ix.panicked)
	}
	if w.err != nil {
		return w.err
	}
	if !stopped {
		d.pos = ix.end
		return nil
	}
	// The indexer stopped early: decode the rest from its last mark.
	last := &ix.marks[ix.nmarks.Load()-1]
	d.bits = last.r
	for i := range d.comp {
		d.comp[i].dcPred = last.pred[i] + ix.handover.Load().corr[i]
	}
	return d.splitMCUs(&ix.lay, nil, mEnd, nmcu, rowLen)
}

// runWork is the runs of MCUs m0 to m1-1 the caller reads, decoded from
// the indexer's marks by whoever takes them.
type runWork struct {
	d      *decoder
	lay    *mcuLayout
	marks  []mark // from the one MCU m0 starts at
	m0     int
	corr   [4]int32
	rowLen int
	runs   [][2]int
	next   atomic.Int64

	mu     sync.Mutex
	err    error
	failed atomic.Bool
}

func (d *decoder) newRunWork(ix *indexer, first, m0, m1, rowLen int) *runWork {
	return &runWork{
		d:      d,
		lay:    &ix.lay,
		marks:  ix.marks[first:int(ix.nmarks.Load())],
		m0:     m0,
		corr:   ix.handover.Load().corr,
		rowLen: rowLen,
		runs:   d.runs(&ix.lay, m0, m1, rowLen),
	}
}

func (w *runWork) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.failed.Store(true)
}

// share decodes runs until none is left or one failed.
func (w *runWork) share() {
	for !w.failed.Load() {
		i := int(w.next.Add(1) - 1)
		if i >= len(w.runs) {
			return
		}
		if err := w.decode(w.runs[i][0], w.runs[i][1]); err != nil {
			w.fail(err)
			return
		}
	}
}

// decode decodes MCUs a to b-1 from the last mark before a.
func (w *runWork) decode(a, b int) error {
	bpm := w.lay.bpm
	// Marks are markMCUs apart from the first on, but for one where the
	// indexer stopped.
	k := min((a-w.m0)/markMCUs, len(w.marks)-1)
	for k > 0 && w.m0+(w.marks[k].idx-w.marks[0].idx)/bpm > a {
		k--
	}
	mk := &w.marks[k]
	if (mk.idx-w.marks[0].idx)%bpm != 0 {
		return FormatError("split decode out of step")
	}
	r := mk.r
	pred := mk.pred
	for i := range pred {
		pred[i] += w.corr[i]
	}
	return w.d.decodeMCUs(&r, &pred, w.lay, w.m0+(mk.idx-w.marks[0].idx)/bpm, a, b, w.rowLen)
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
			r.need32()
			s := r.huff(&d.huff[0][c.dcTab])
			if uint32(s) > 15 {
				return FormatError("bad DC Huffman code")
			}
			if s > 0 {
				pred[c.index] += extend(r.take(uint(s)), int(s))
			}
			ac := &d.huff[1][c.acTab]
			rows := c.needed(bx, by)
			if m < a || rows == 0 {
				if err := skipAC(r, ac); err != nil {
					return err
				}
				continue
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
