package imaging

import (
	"bytes"
	"context"
)

// ctxReader is data as the decoders read it, failing every read once ctx
// is done, so a decode whose client has gone stops at its next read
// instead of inflating the rest of a bomb. Reads return at most
// ctxReadMax bytes: a 4 KB read of a bomb's zlib stream inflates to 4 MB,
// a third of a second of decoding. It is an io.ReaderAt too, so
// x/image/tiff reads strips from it in place rather than copying the
// file (ReadAt must fill its buffer, so TIFF is checked per 4 KB).
type ctxReader struct {
	ctx context.Context
	r   *bytes.Reader
}

const ctxReadMax = 512

func newCtxReader(ctx context.Context, data []byte) *ctxReader {
	return &ctxReader{ctx: ctx, r: bytes.NewReader(data)}
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p[:min(len(p), ctxReadMax)])
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
