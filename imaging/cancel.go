package imaging

import (
	"bytes"
	"context"
)

// ctxReader is data as the decoders read it, failing every read once ctx
// is done, so a decode whose client has gone stops at its next read
// instead of inflating the rest of a bomb. It is an io.ReaderAt too, so
// x/image/tiff reads strips from it in place rather than copying the file.
type ctxReader struct {
	ctx context.Context
	r   *bytes.Reader
}

func newCtxReader(ctx context.Context, data []byte) *ctxReader {
	return &ctxReader{ctx: ctx, r: bytes.NewReader(data)}
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (c *ctxReader) ReadAt(p []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.ReadAt(p, off)
}

func (c *ctxReader) ReadByte() (byte, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.ReadByte()
}

func (c *ctxReader) UnreadByte() error { return c.r.UnreadByte() }
