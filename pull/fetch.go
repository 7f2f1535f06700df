package pull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Fetcher downloads files into a cache directory, resumably: bytes land in
// NAME.part, a retry asks the server for the rest with a Range request,
// and only a complete, verified file is renamed to NAME.
type Fetcher struct {
	Client *http.Client
	// Dir is the download cache; it is created when needed.
	Dir string
	// Attempts is how many times one Fetch tries (each retry resumes from
	// the part file). Below 1 means 3.
	Attempts int
	// Backoff is the pause before the first retry, doubled each time.
	// Zero means one second.
	Backoff time.Duration
}

// Want is what a download is checked against; zero values are unknown.
type Want struct {
	Size   int64
	SHA256 string
}

// ErrIncomplete is wrapped by errors that leave a resumable part file.
var ErrIncomplete = errors.New("download incomplete")

// Fetch downloads url to Dir/file and returns the file's path. progress
// (optional) sees bytes done and the total (-1 while unknown), resumed
// bytes included.
func (f *Fetcher) Fetch(ctx context.Context, url, file string, want Want, progress func(done, total int64)) (string, error) {
	if file == "" || file != filepath.Base(file) || strings.HasPrefix(file, ".") {
		return "", fmt.Errorf("fetch %s: invalid file name %q", url, file)
	}
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return "", fmt.Errorf("fetch %s: download cache: %w", url, err)
	}
	dst := filepath.Join(f.Dir, file)
	part := dst + ".part"
	attempts := f.Attempts
	if attempts < 1 {
		attempts = 3
	}
	backoff := f.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	// The lock is held from the first byte to the rename, so a second
	// process pulling the same file waits instead of writing into it.
	out, err := openLocked(ctx, part)
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", url, err)
	}
	defer out.Close()
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("fetch %s: %w (after: %v)", url, ctx.Err(), err)
			case <-time.After(backoff << (i - 1)):
			}
		}
		err = f.once(ctx, url, out, progress)
		if err == nil {
			break
		}
		// Only an interrupted transfer is worth another try; a 404 or a
		// checksum mismatch will not change.
		if !errors.Is(err, ErrIncomplete) || ctx.Err() != nil {
			if st, serr := out.Stat(); serr == nil && st.Size() == 0 {
				os.Remove(part)
			}
			return "", err
		}
	}
	if err != nil {
		return "", fmt.Errorf("%w (gave up after %d attempts; the next pull resumes from %s)", err, attempts, part)
	}
	if err := verify(out, want); err != nil {
		// A wrong file cannot be resumed into a right one.
		os.Remove(part)
		return "", fmt.Errorf("fetch %s: %w", url, err)
	}
	if err := os.Rename(part, dst); err != nil {
		return "", fmt.Errorf("fetch %s: %w", url, err)
	}
	return dst, nil
}

// once makes one request, appending to part from where it ends.
func (f *Fetcher) once(ctx context.Context, url string, out *os.File, progress func(done, total int64)) error {
	have, err := out.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("fetch %s: %w", url, ctx.Err())
		}
		return fmt.Errorf("fetch %s: %w: %w", url, ErrIncomplete, err)
	}
	defer resp.Body.Close()

	var total int64
	switch resp.StatusCode {
	case http.StatusOK:
		// The server sends the whole file (it ignored or we sent no Range).
		if have > 0 {
			if err := out.Truncate(0); err != nil {
				return fmt.Errorf("fetch %s: %w", url, err)
			}
			if _, err := out.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("fetch %s: %w", url, err)
			}
			have = 0
		}
		total = resp.ContentLength
	case http.StatusPartialContent:
		start, size, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil {
			return fmt.Errorf("fetch %s: %w", url, err)
		}
		if start != have {
			return fmt.Errorf("fetch %s: asked for bytes from %d, server sent from %d", url, have, start)
		}
		total = size
	case http.StatusRequestedRangeNotSatisfiable:
		// A part that already holds the whole file (an earlier attempt
		// died after the last byte) is done; anything else starts over
		// rather than guess which bytes are right.
		if sz, ok := strings.CutPrefix(resp.Header.Get("Content-Range"), "bytes */"); ok {
			if n, err := strconv.ParseInt(sz, 10, 64); err == nil && n == have {
				return nil
			}
		}
		if err := out.Truncate(0); err != nil {
			return fmt.Errorf("fetch %s: %w", url, err)
		}
		return fmt.Errorf("fetch %s: %w: server refused to resume at byte %d; restarting", url, ErrIncomplete, have)
	default:
		return fmt.Errorf("fetch %s: %s", url, resp.Status)
	}
	if progress != nil {
		progress(have, total)
	}
	w := io.Writer(out)
	if progress != nil {
		w = &progressWriter{w: out, done: have, total: total, fn: progress}
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("fetch %s: %w", url, ctx.Err())
		}
		return fmt.Errorf("fetch %s: %w at byte %d: %w", url, ErrIncomplete, have+n, err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	if got := have + n; total >= 0 && got != total {
		return fmt.Errorf("fetch %s: %w: got %d of %d bytes", url, ErrIncomplete, got, total)
	}
	return nil
}

// openLocked opens part for appending under an exclusive lock. A process
// that waited for the lock may find the file it opened already renamed
// away by the holder; it then opens the path afresh.
func openLocked(ctx context.Context, part string) (*os.File, error) {
	for {
		f, err := os.OpenFile(part, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, err
		}
		if err := lockFile(ctx, f); err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", part, err)
		}
		held, err1 := f.Stat()
		now, err2 := os.Stat(part)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// parseContentRange reads "bytes START-END/SIZE"; SIZE may be "*".
func parseContentRange(s string) (start, size int64, err error) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, fmt.Errorf("bad Content-Range %q", s)
	}
	rng, sz, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, fmt.Errorf("bad Content-Range %q", s)
	}
	first, _, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, fmt.Errorf("bad Content-Range %q", s)
	}
	if start, err = strconv.ParseInt(first, 10, 64); err != nil || start < 0 {
		return 0, 0, fmt.Errorf("bad Content-Range %q", s)
	}
	size = -1
	if sz != "*" {
		if size, err = strconv.ParseInt(sz, 10, 64); err != nil || size < start {
			return 0, 0, fmt.Errorf("bad Content-Range %q", s)
		}
	}
	return start, size, nil
}

// verify checks a complete download against what the catalog knows.
func verify(f *os.File, want Want) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if want.Size > 0 && st.Size() != want.Size {
		return fmt.Errorf("downloaded %d bytes, the catalog says %d", st.Size(), want.Size)
	}
	if want.SHA256 == "" {
		return nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, st.Size())); err != nil {
		return fmt.Errorf("hashing %s: %w", f.Name(), err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, want.SHA256) {
		return fmt.Errorf("sha256 %s, the catalog says %s", got, want.SHA256)
	}
	return nil
}

type progressWriter struct {
	w           io.Writer
	done, total int64
	fn          func(done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.fn(p.done, p.total)
	return n, err
}
