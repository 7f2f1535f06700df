package jpeg

import (
	"bytes"
	"sync/atomic"

	"github.com/lcnet/lcnet/internal/par"
)

// A baseline scan with restart markers (many cameras write them) is cut
// into intervals that each start byte-aligned, right after an RSTn
// marker, with the DC predictions at zero: they decode independently.
// With Options.Parallel two goroutines take groups of intervals in turn,
// each decoding and transforming its own. The markers are found first, by
// a byte search; a scan whose markers are not exactly the RST0..RST7
// cycle its MCU count calls for is decoded serially, which fails where
// the serial decode fails. An interval's error is the serial decode's for
// that interval, and the first failing interval's is the scan's.

// restartGroups is about how many groups of intervals the two goroutines
// share: enough that one finishing early waits little for the other.
const restartGroups = 64

// restartScan decodes a baseline scan with restart markers on two
// goroutines. ok is false, with nothing decoded, when its markers are not
// the ones its intervals call for.
func (d *decoder) restartScan(p *scanParams, nmcu, rowLen int) (ok bool, err error) {
	nint := (nmcu + d.ri - 1) / d.ri
	starts, end, ok := d.restartMarkers(nint)
	if !ok {
		return false, nil
	}
	lay := d.layout(p)
	per := max(1, nint/restartGroups)
	ngroups := (nint + per - 1) / per
	var (
		next atomic.Int64
		cut  atomic.Int64 // groups from cut on are not started
		// errs[g] is group g's error: each group is one goroutine's,
		// and par.Two's return orders its writes before the read below.
		errs = make([]error, ngroups)
	)
	cut.Store(int64(ngroups))
	work := func() {
		var r bitReader
		for {
			g := int(next.Add(1) - 1)
			if g >= ngroups || int64(g) >= cut.Load() {
				return
			}
			for k := g * per; k < min((g+1)*per, nint); k++ {
				r.reset(d.data, starts[k])
				var pred [4]int32
				m0 := k * d.ri
				m1 := min(m0+d.ri, nmcu)
				if err := d.decodeMCUs(&r, &pred, &lay, m0, m0, m1, rowLen); err != nil {
					errs[g] = err
					lower(&cut, int64(g))
					break
				}
			}
		}
	}
	par.Two(work, work, func() { cut.Store(0) })
	if c := int(cut.Load()); c < ngroups {
		return true, errs[c]
	}
	d.pos, d.restarted = end, true
	return true, nil
}

// restartMarkers finds where each of a scan's nint intervals starts, the
// scan's data starting at d.pos, and where the data ends: ok only if the
// data holds exactly nint-1 markers, RST0 to RST7 in turn, before its
// first other marker.
func (d *decoder) restartMarkers(nint int) (starts []int, end int, ok bool) {
	starts = append(make([]int, 0, nint), d.pos)
	data, pos := d.data, d.pos
	for {
		i := bytes.IndexByte(data[pos:], 0xff)
		if i < 0 || pos+i+1 >= len(data) {
			return nil, 0, false
		}
		pos += i
		switch m := data[pos+1]; {
		case m == 0 || m == 0xff:
			pos++ // stuffing, or a fill byte before a marker
		case m >= mRST0 && m <= mRST7:
			if len(starts) == nint || int(m-mRST0) != (len(starts)-1)%8 {
				return nil, 0, false
			}
			pos += 2
			starts = append(starts, pos)
		default:
			return starts, pos, len(starts) == nint
		}
	}
}
