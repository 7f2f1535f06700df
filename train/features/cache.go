// Package features caches backbone feature rows for fine-tuning: each image
// goes through the frozen network once per augmentation, and its row is
// kept in memory up to a byte budget, beyond which rows go to a temporary
// file in a directory the caller chooses.
package features

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
)

// ErrDim is wrapped when a row's length is not the cache's dimension.
var ErrDim = errors.New("features: row of the wrong dimension")

// Key names a row: an image index and an augmentation index (0 for the
// un-augmented image).
type Key struct {
	Image, Aug int
}

// Cache holds float32 rows of one dimension. It is safe for concurrent use.
type Cache struct {
	dim      int
	limit    int64 // bytes of rows kept in memory
	dir      string
	mu       sync.Mutex
	mem      map[Key][]float32
	memBytes int64
	spill    *os.File
	offsets  map[Key]int64
	end      int64
	buf      []byte
}

// New returns a cache of dim-wide rows that keeps up to memLimit bytes of
// rows in memory and spills the rest to a temporary file in dir ("" for the
// system's temporary directory). Close removes the file.
func New(dim int, memLimit int64, dir string) (*Cache, error) {
	if dim < 1 {
		return nil, fmt.Errorf("%w: dimension %d", ErrDim, dim)
	}
	return &Cache{dim: dim, limit: max(memLimit, 0), dir: dir, mem: map[Key][]float32{}, offsets: map[Key]int64{}}, nil
}

// Dim is the row width.
func (c *Cache) Dim() int { return c.dim }

func (c *Cache) rowBytes() int64 { return int64(c.dim) * 4 }

// Put stores a copy of row under k, replacing any earlier row.
func (c *Cache) Put(k Key, row []float32) error {
	if len(row) != c.dim {
		return fmt.Errorf("%w: %d values, want %d", ErrDim, len(row), c.dim)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.mem[k]; ok {
		copy(r, row)
		return nil
	}
	if off, ok := c.offsets[k]; ok {
		return c.write(off, row)
	}
	if c.memBytes+c.rowBytes() <= c.limit {
		c.mem[k] = append([]float32(nil), row...)
		c.memBytes += c.rowBytes()
		return nil
	}
	if c.spill == nil {
		f, err := os.CreateTemp(c.dir, "lcnet-features-*")
		if err != nil {
			return fmt.Errorf("features: spill file: %w", err)
		}
		c.spill = f
	}
	if err := c.write(c.end, row); err != nil {
		return err
	}
	c.offsets[k] = c.end
	c.end += c.rowBytes()
	return nil
}

func (c *Cache) write(off int64, row []float32) error {
	c.buf = c.buf[:0]
	for _, v := range row {
		c.buf = binary.LittleEndian.AppendUint32(c.buf, math.Float32bits(v))
	}
	if _, err := c.spill.WriteAt(c.buf, off); err != nil {
		return fmt.Errorf("features: spilling a row: %w", err)
	}
	return nil
}

// Get copies k's row into dst (grown as needed) and returns it, or reports
// false when k was never put.
func (c *Cache) Get(k Key, dst []float32) ([]float32, bool, error) {
	dst = append(dst[:0], make([]float32, c.dim)...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.mem[k]; ok {
		copy(dst, r)
		return dst, true, nil
	}
	off, ok := c.offsets[k]
	if !ok {
		return dst[:0], false, nil
	}
	c.buf = append(c.buf[:0], make([]byte, c.rowBytes())...)
	if _, err := c.spill.ReadAt(c.buf, off); err != nil {
		return dst[:0], false, fmt.Errorf("features: reading a spilled row: %w", err)
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(c.buf[i*4:]))
	}
	return dst, true, nil
}

// Stats reports the rows held in memory and on disk and the bytes of each.
func (c *Cache) Stats() (memRows, diskRows int, memBytes, diskBytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mem), len(c.offsets), c.memBytes, c.end
}

// Close removes the spill file.
func (c *Cache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mem, c.offsets = map[Key][]float32{}, map[Key]int64{}
	c.memBytes, c.end = 0, 0
	if c.spill == nil {
		return nil
	}
	name := c.spill.Name()
	err := c.spill.Close()
	c.spill = nil
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("features: removing spill file: %w", err)
	}
	return nil
}
