package jpeg

import (
	"bytes"
	"sync"
	"sync/atomic"
)

// A baseline scan without restart markers is one stream of Huffman codes:
// where a block starts depends on every code before it, so the stream
// cannot be cut at a known place. It can be cut at a guessed one. With
// Options.Parallel a second reader starts decoding at a byte part of the
// way into the scan's data, as if an MCU started there. Its first codes are
// misread, but Huffman codes resynchronise: after a few blocks its code
// boundaries, and soon its place in the MCU, coincide with those of the
// true decode, and from then on it reads exactly what the true decode
// would. It cannot tell when that happened, so it records where each of its
// blocks starts and its DC difference: at scale 8 a block's sample is its
// DC (split_index.go is the other scales).
//
// The calling goroutine can tell. It decodes from the start of the scan as
// the serial decode does and, once past the guessed byte, compares the
// place of each of its MCUs (bits consumed since the scan started) with the
// second reader's records. At the first record that starts an MCU at the
// same place, it stops decoding: the records from there on are the true
// blocks, their DC values off by one constant per component, which the
// running prediction absorbs. It turns them into samples while the second
// reader goes on. A stream that does not resynchronise, or an
// image too small to pay, is decoded by the calling goroutine alone, so
// the planes and errors are the serial decode's either way.

const (
	// splitMinPixels is the image size from which Options.Parallel
	// splits a baseline scan without restart markers, and splitMinBytes
	// the scan's size: below, the second reader's start-up and hand-over
	// cost about what it saves.
	splitMinPixels = 1024 * 768
	splitMinBytes  = 1 << 14
	// specChunkBlocks is the number of blocks the second reader records
	// before it hands them to the calling goroutine (tests use fewer).
	specChunkBlocks = 4096
	// specBlockSize is the size of a specBlock.
	specBlockSize = 2
	// specSearchBlocks is how many of its first blocks the second reader
	// records the places of, for the calling goroutine to find one it
	// reached: it resynchronises within a few dozen. Past them a block
	// costs 2 bytes, which keeps a split decode's garbage (and so the
	// garbage collector, which would take the second core) small.
	specSearchBlocks = 1 << 15
	// specMaxErrors is how many misread blocks the second reader takes
	// before it gives up: a stream that never resynchronises.
	specMaxErrors = 256
)

// specBlock is one block the second reader decoded.
type specBlock struct {
	dc int16 // DC difference (at most 15 magnitude bits), not dequantised
}

// specChunk is a run of recorded blocks: blocks[i] is the reader's block
// first+i. places[i], for the reader's first specSearchBlocks blocks, is
// block i's place in the scan (bits from its start to the block's first
// code) <<4 | its place in the MCU.
type specChunk struct {
	first  int
	blocks []specBlock
	places []int64
}

// specBreak is where the second reader's records are interrupted, before
// its block at. Either the block failed to decode (err, a misread or, once
// synchronised, the stream's own error; end marks the truncation check at
// the end of an MCU), or the reader stopped at an MCU boundary (err nil)
// and snap is its state there, to go on from.
type specBreak struct {
	at   int
	err  error
	end  bool
	snap bitReader
}

// mcuLayout lists the blocks of an MCU of one scan in decoding order.
type mcuLayout struct {
	bpm    int
	comp   [10]uint8
	dx, dy [10]uint8
	// cw is the blocks per row of a one-component scan (zero when
	// interleaved): its MCU is one block.
	cw int
}

func (d *decoder) layout(p *scanParams) mcuLayout {
	var l mcuLayout
	if p.ns == 1 {
		c := &d.comp[p.comps[0]]
		l.bpm, l.comp[0] = 1, uint8(p.comps[0])
		l.cw = ((d.width*c.h+d.hmax-1)/d.hmax + 7) / 8
		return l
	}
	for i := 0; i < p.ns; i++ {
		c := &d.comp[p.comps[i]]
		for v := 0; v < c.v; v++ {
			for h := 0; h < c.h; h++ {
				l.comp[l.bpm], l.dx[l.bpm], l.dy[l.bpm] = uint8(p.comps[i]), uint8(h), uint8(v)
				l.bpm++
			}
		}
	}
	return l
}

// at returns the component and block coordinates of block phase of MCU m.
func (d *decoder) at(l *mcuLayout, m, phase int) (*component, int, int) {
	c := &d.comp[l.comp[phase]]
	if l.cw > 0 {
		return c, m % l.cw, m / l.cw
	}
	mx, my := m%d.mcusX, m/d.mcusX
	return c, mx*c.h + int(l.dx[phase]), my*c.v + int(l.dy[phase])
}

// spec is the second reader of a split scan. Its fields up to mu belong
// to its goroutine (or are read only); chunks, breaks and finished are
// published under mu; the rest is the calling goroutine's view.
type spec struct {
	d      *decoder // read only: tables, components, scale, context
	lay    mcuLayout
	r      bitReader
	base   int64 // the scan's bits before the reader's first byte
	end    int   // where the scan's entropy-coded data ends
	limit  int   // blocks the reader may record: the whole scan's
	budget int64 // bytes of chunks it may allocate

	quit     atomic.Bool
	done     chan struct{}
	notify   chan struct{}
	panicked any

	mu       sync.Mutex
	chunks   []*specChunk
	breaks   []specBreak
	finished bool

	view      []*specChunk
	vbreaks   []specBreak
	vfinished bool
	ci, bi    int  // search cursor: chunk and block within it
	unplaced  bool // the search reached blocks without places
}

// splitStart returns where the second reader of a baseline scan whose
// data starts at d.pos starts (s), where the scan's entropy-coded data
// ends, and the scan's bits before s; ok is false when the scan is too
// short to split.
func (d *decoder) splitStart() (s, end int, base int64, ok bool) {
	start := d.pos
	end = entropyEnd(d.data, start)
	if end-start < d.splitMinBytes {
		return 0, 0, 0, false
	}
	s = start + int(int64(end-start)*int64(d.splitAt)/64)
	if d.data[s-1] == 0xff {
		// s is the stuffed zero of a 0xff 0x00 pair.
		s++
	}
	if end-s < d.splitMinBytes/4 {
		return 0, 0, 0, false
	}
	stuffed := bytes.Count(d.data[start:s], []byte{0xff, 0})
	return s, end, int64(s-start-stuffed) * 8, true
}

// startSpec starts the second reader of a baseline scan at scale 8 whose
// data starts at d.pos, or returns nil when the scan is too short to split.
func (d *decoder) startSpec(p *scanParams, nmcu int) *spec {
	s, end, base, ok := d.splitStart()
	if !ok {
		return nil
	}
	budget := d.splitBudget(int64(end - s))
	if budget < 2*d.specChunkBytes() {
		return nil
	}
	sp := &spec{
		d:      d,
		lay:    d.layout(p),
		base:   base,
		end:    end,
		budget: budget,
		done:   make(chan struct{}),
		notify: make(chan struct{}, 1),
	}
	sp.limit = nmcu * sp.lay.bpm
	sp.r.reset(d.data, s)
	d.adopted = false
	go sp.run()
	return sp
}

// entropyEnd returns where the entropy-coded data starting at pos ends:
// at the first 0xff that is not stuffing, where the bit reader pads.
func entropyEnd(data []byte, pos int) int {
	for {
		i := bytes.IndexByte(data[pos:], 0xff)
		if i < 0 {
			return len(data)
		}
		pos += i
		if pos+1 < len(data) && data[pos+1] == 0 {
			pos += 2
			continue
		}
		return pos
	}
}

// splitBudget is the bytes of chunks the second reader may allocate for n
// bytes of entropy-coded data: what Options.MaxBytes leaves, or without
// it a bound that photos stay far below (a block takes at least 2 bits).
func (d *decoder) splitBudget(n int64) int64 {
	if d.maxBytes > 0 {
		return d.spare
	}
	return 4*n*specBlockSize + specSearchBlocks*8 + 2*d.specChunkBytes()
}

// specChunkBytes is what a chunk allocates, places aside.
func (d *decoder) specChunkBytes() int64 {
	return int64(d.chunkBlocks) * specBlockSize
}

// run is the second reader's goroutine. It records blocks until it stops
// at an MCU boundary (asked to quit, canceled, out of budget or blocks,
// or after too many misread blocks) or the stream ends (the truncation
// check fails at the end of an MCU), and always ends with a break.
func (s *spec) run() {
	defer close(s.done)
	defer func() {
		if v := recover(); v != nil {
			s.mu.Lock()
			s.panicked, s.finished = v, true
			s.mu.Unlock()
			s.signal()
		}
	}()
	d, r := s.d, &s.r
	var (
		pending  []specBreak
		ch       *specChunk
		idx      int
		phase    int
		errs     int
		mcus     int
		used     int64
		publish  func(final bool)
		newChunk = func() bool {
			size := d.specChunkBytes()
			search := idx < specSearchBlocks
			if search {
				size += int64(d.chunkBlocks) * 8
			}
			if used+size > s.budget {
				return false
			}
			used += size
			ch = &specChunk{first: idx, blocks: make([]specBlock, 0, d.chunkBlocks)}
			if search {
				ch.places = make([]int64, 0, d.chunkBlocks)
			}
			return true
		}
	)
	publish = func(final bool) {
		s.mu.Lock()
		if ch != nil && len(ch.blocks) > 0 {
			s.chunks = append(s.chunks, ch)
		}
		s.breaks = append(s.breaks, pending...)
		s.finished = final
		s.mu.Unlock()
		pending, ch = pending[:0], nil
		s.signal()
	}
	stop := func() {
		pending = append(pending, specBreak{at: idx, snap: *r})
		publish(true)
	}
	for {
		if phase == 0 {
			if s.quit.Load() || idx+s.lay.bpm > s.limit || errs > specMaxErrors ||
				mcus%64 == 0 && d.ctx != nil && d.ctx.Err() != nil {
				stop()
				return
			}
			if ch != nil && len(ch.blocks)+s.lay.bpm > cap(ch.blocks) {
				publish(false)
			}
			if ch == nil && !newChunk() {
				stop()
				return
			}
		}
		c := &d.comp[s.lay.comp[phase]]
		var place int64 // only the blocks the caller may match need it
		if ch.places != nil {
			place = s.base + r.place()
		}
		var b specBlock
		diff, err := skipBlock(r, &d.huff[0][c.dcTab], &d.huff[1][c.acTab])
		b.dc = int16(diff)
		if err != nil {
			// Before the reader resynchronises this is a misread: go
			// on as if an MCU started one bit further (a code not in
			// the table was not consumed).
			pending = append(pending, specBreak{at: idx, err: err})
			r.bits(1)
			errs++
			phase = 0
			continue
		}
		if ch.places != nil {
			ch.places = append(ch.places, place<<4|int64(phase))
		}
		ch.blocks = append(ch.blocks, b)
		idx++
		if phase++; phase == s.lay.bpm {
			phase = 0
			mcus++
			if r.overrun() {
				pending = append(pending, specBreak{at: idx, err: FormatError("truncated entropy-coded data"), end: true})
				publish(true)
				return
			}
		}
	}
}

func (s *spec) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// refresh updates the calling goroutine's view of what the reader
// published, reporting whether anything was new. A reader that panicked
// is finished; finish re-panics on the calling goroutine.
func (s *spec) refresh() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	grew := len(s.chunks) > len(s.view) || len(s.breaks) > len(s.vbreaks) || s.finished != s.vfinished
	s.view, s.vbreaks, s.vfinished = s.chunks, s.breaks, s.finished
	return grew
}

// wait blocks until the reader publishes more, and refreshes the view.
func (s *spec) wait() {
	if !s.vfinished {
		<-s.notify
	}
	s.refresh()
}

// match reports whether the reader recorded a block starting an MCU at
// place, returning its index. The calling goroutine asks for increasing
// places, so the records before place are passed over for good.
func (s *spec) match(place int64) (int, bool) {
	for {
		for s.ci < len(s.view) {
			ch := s.view[s.ci]
			for s.bi < len(ch.places) && ch.places[s.bi]>>4 < place {
				s.bi++
			}
			if s.bi < len(ch.places) {
				return ch.first + s.bi, ch.places[s.bi] == place<<4
			}
			if len(ch.places) < len(ch.blocks) {
				s.unplaced = true
				return 0, false
			}
			s.ci, s.bi = s.ci+1, 0
		}
		if !s.refresh() {
			return 0, false
		}
	}
}

// exhausted reports whether the reader has finished and every record was
// passed over: no match can come any more.
func (s *spec) exhausted() bool { return s.unplaced || s.vfinished && s.ci >= len(s.view) }

// finish asks the reader to stop and waits for it.
func (s *spec) finish() {
	s.quit.Store(true)
	<-s.done
	if s.panicked != nil {
		panic(s.panicked)
	}
}
