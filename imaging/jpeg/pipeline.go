package jpeg

// A baseline scan of a large photo is two kinds of work of similar size:
// the Huffman decoding, which is sequential (every code's position depends
// on the previous one), and the inverse DCT of the blocks the caller
// reads, which is independent per block. With Options.Parallel the calling
// goroutine decodes coefficients into a band buffer and one more goroutine
// runs the IDCT of the previous band, so a lone request keeps two cores
// busy. Both write what the serial decode writes, so the planes are the
// same bit for bit.

const (
	// parallelMinPixels is the image size (width*height at full scale)
	// from which Options.Parallel pipelines a baseline scan: 1024x768.
	// A smaller image fits in one or two bands, so the stages barely
	// overlap; at 1024x768 the pipeline cut an exact decode (the Rows
	// and Cols of a resize to 256) by a fifth, at 2048x1536 by 30%
	// (BenchmarkPipelineThreshold).
	parallelMinPixels = 1024 * 768
	// bandBlocks is the number of blocks a band buffer holds. Each
	// handover may wake the other goroutine: on the 5120x2880 photo
	// (110 ms serially) bands of 1024 blocks took 86-92 ms for 20% more
	// CPU, bands of 4096 took 71-74 ms for 13% more, and bands of 16384
	// gained little more (BenchmarkPipelineBand).
	bandBlocks = 4096
	// bandEntries is the number of AC coefficients a band holds per
	// block, on average: photos have far fewer than 63 nonzero ones, and a
	// band whose blocks have more is handed over before its block count
	// is reached.
	bandEntries = 16
	// bandBuffers is the number of band buffers: one being filled, one
	// being transformed, one spare to absorb jitter between the stages.
	bandBuffers = 3
	// pendingSize is the size of a pendingBlock.
	pendingSize = 24
)

// pendingBlock is a buffered block: its dequantised DC, how many of the
// band's AC entries are its own, and where its samples go.
type pendingBlock struct {
	off  int   // offset in the component's plane
	dc   int32 // dequantised
	n    uint8 // AC entries in band.ac
	comp uint8 // component index
	rows uint8 // component.needed
	last uint8 // zig-zag index of the last nonzero coefficient
}

// band is a buffer of blocks as the entropy decoder found them: each
// nonzero AC coefficient is one entry, value<<6 | zig-zag index, the
// blocks' entries one after the other. Written sequentially, a band costs
// the decoding goroutine a few stores per block; the IDCT goroutine
// scatters and dequantises them into a block of its own.
type band struct {
	ac     []int32
	blocks []pendingBlock
}

// pipeline is the state of one pipelined scan, owned by the decoding
// goroutine except for the bands in flight and the planes' samples, which
// the IDCT goroutine writes (never the same block as anyone else).
type pipeline struct {
	cur  *band
	full chan *band // decoded bands, to the IDCT goroutine
	free chan *band // transformed bands, back to the decoder
	done chan struct{}
	// panicked is what the IDCT goroutine panicked with, if it did: stop
	// panics with it on the decoding goroutine, where the caller's
	// recover (the server's middleware) can see it, as it would see a
	// panic of the serial decode, instead of the whole process dying.
	panicked any

	blk    [64]int32 // the decoding goroutine's block for transformBand
	scale  int
	blocks int // blocks per band
	pix    [4][]byte
	stride [4]int
	quant  [4]*[64]int32 // per component; DQT cannot change them mid-scan
}

// newPipeline allocates the band buffers and starts the IDCT goroutine.
// The caller must call stop before it returns, whatever happens.
func (d *decoder) newPipeline() *pipeline {
	p := &pipeline{
		full:   make(chan *band, bandBuffers),
		free:   make(chan *band, bandBuffers),
		done:   make(chan struct{}),
		scale:  d.scale,
		blocks: d.bandBlocks,
	}
	for i := 0; i < d.ncomp; i++ {
		c := &d.comp[i]
		p.pix[i], p.stride[i], p.quant[i] = c.pix, c.stride, &d.quant[c.tq]
	}
	for range bandBuffers {
		p.free <- &band{ac: make([]int32, 0, d.bandACCap()), blocks: make([]pendingBlock, 0, p.blocks)}
	}
	p.cur = <-p.free
	go p.transform()
	return p
}

// transform is the IDCT stage: it runs until full is closed.
func (p *pipeline) transform() {
	defer close(p.done)
	defer func() {
		if v := recover(); v != nil {
			p.panicked = v
			// Let the decoder's sends and receives complete until it
			// stops: it may be waiting for a free band.
			for b := range p.full {
				p.free <- b
			}
		}
	}()
	var blk [64]int32
	for b := range p.full {
		p.transformBand(b, &blk)
		p.free <- b
	}
}

// transformBand runs the IDCT of a band's blocks and empties it.
func (p *pipeline) transformBand(b *band, blk *[64]int32) {
	ac := b.ac
	for i := range b.blocks {
		pb := &b.blocks[i]
		q := p.quant[pb.comp]
		*blk = [64]int32{}
		blk[0] = pb.dc
		for _, e := range ac[:pb.n] {
			z := unzig[e&63]
			blk[z] = e >> 6 * q[z]
		}
		ac = ac[pb.n:]
		idct(p.scale, blk, int(pb.last), p.pix[pb.comp][pb.off:], p.stride[pb.comp], pb.rows)
	}
	b.ac, b.blocks = b.ac[:0], b.blocks[:0]
}

// queue is baselineBlock's AC decoding for a pipelined scan: it reads
// the codes of one needed block into the current band, handing the band
// over first when it is full. It refuses what baselineBlock refuses.
func (p *pipeline) queue(r *bitReader, ac *huffTable, ci int, dc int32, off int, rows uint8) error {
	b := p.cur
	if len(b.blocks) == p.blocks || cap(b.ac)-len(b.ac) < 63 {
		select {
		case next := <-p.free:
			// There are bandBuffers bands, so full has room for this one.
			p.full <- b
			b = next
			p.cur = b
		default:
			// The IDCT goroutine is behind (a photo the resize shrinks
			// little needs most blocks' IDCT): run this band's here
			// rather than wait for it.
			p.transformBand(b, &p.blk)
		}
	}
	// A band with room for fewer than 63 more entries was handed over,
	// so these stores stay within its capacity.
	n, last, err := readAC(r, ac, b.ac[len(b.ac):len(b.ac)+63])
	if err != nil {
		return err
	}
	b.ac = b.ac[:len(b.ac)+n]
	b.blocks = append(b.blocks, pendingBlock{off: off, dc: dc, n: uint8(n), comp: uint8(ci), rows: rows, last: uint8(last)})
	return nil
}

// stop hands over the partly filled band when flush is set (the scan
// succeeded), ends the IDCT goroutine and waits for it, so that no sample
// is written after the scan returns. On an error the buffered blocks are
// dropped: the planes are not returned.
func (p *pipeline) stop(flush bool) {
	if flush && len(p.cur.blocks) > 0 {
		p.full <- p.cur
	}
	p.cur = nil
	close(p.full)
	<-p.done
	if p.panicked != nil {
		panic(p.panicked)
	}
}

// wantPipeline says whether the baseline scans are pipelined, given the
// bytes the decode allocates otherwise: the caller asked for it, the image
// is large enough to pay, the IDCT is real work (at scale 8 a block is its
// DC coefficient) and the band buffers fit in Options.MaxBytes. A decode
// that does not fit runs serially rather than failing, so Parallel never
// changes which files decode.
func (d *decoder) wantPipeline(total int64) bool {
	if !d.parallel || d.progressive || d.scale == 8 ||
		int64(d.width)*int64(d.height) < d.parallelMin {
		return false
	}
	return d.maxBytes <= 0 || total+d.pipelineBytes() <= d.maxBytes
}

// pipelineBytes is what the pipeline allocates.
func (d *decoder) pipelineBytes() int64 {
	return int64(bandBuffers) * (int64(d.bandBlocks)*pendingSize + int64(d.bandACCap())*4)
}

// bandACCap is the capacity of a band's AC entries.
func (d *decoder) bandACCap() int {
	return d.bandBlocks*bandEntries + 63
}

// readAC reads the AC codes of one block into buf (at least 63 long) as
// entries value<<6 | zig-zag index, returning how many it wrote and the
// zig-zag index of the last. It refuses what baselineBlock refuses.
func readAC(r *bitReader, ac *huffTable, buf []int32) (n, last int, err error) {
	buf = buf[:63]
	// The accumulator is held in locals, as in skipBlock.
	acc, have := r.acc, r.n
	for k := 1; k < 64; {
		if have < 32 {
			acc, have = r.fill(acc, have)
		}
		if f := ac.fast[acc>>(64-lookBits)]; f != 0 {
			k += int(f >> 8 & 0xff)
			l := uint(f & 31)
			acc <<= l
			have -= int(l)
			if k > 63 {
				r.acc, r.n = acc, have
				return 0, 0, FormatError("too many coefficients")
			}
			buf[n] = f>>16<<6 | int32(k)
			n++
			last = k
			k++
			continue
		}
		r.acc, r.n = acc, have
		rs := r.huff(ac)
		if rs < 0 {
			return 0, 0, FormatError("bad AC Huffman code")
		}
		run, s := int(rs>>4), int(rs&15)
		if s == 0 {
			if run != 15 {
				return n, last, nil
			}
			acc, have = r.acc, r.n
			k += 16
			continue
		}
		k += run
		if k > 63 {
			return 0, 0, FormatError("too many coefficients")
		}
		buf[n] = extend(r.take(uint(s)), s)<<6 | int32(k)
		acc, have = r.acc, r.n
		n++
		last = k
		k++
	}
	r.acc, r.n = acc, have
	return n, last, nil
}
