package pull

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path"
	"sync"
	"testing"
	"time"
)

// site stands in for the download servers: it serves files by name with
// Range support (http.ServeContent) and can break connections off.
type site struct {
	*httptest.Server

	mu    sync.Mutex
	files map[string][]byte
	// breakAt cuts the next breaks[name] responses for name off after
	// breakAt bytes of body (counted from the range start).
	breakAt int
	breaks  map[string]int
	// noRange makes the server ignore Range headers, as some mirrors do.
	noRange bool
	// delay slows every response, so concurrent callers overlap.
	delay  time.Duration
	ranges []string // the Range header of every request, "" for none
	full   int      // requests answered from byte 0
}

func newSite(t *testing.T, files map[string][]byte) *site {
	t.Helper()
	s := &site{files: files, breaks: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *site) serve(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Path)
	s.mu.Lock()
	data, ok := s.files[name]
	rng := r.Header.Get("Range")
	s.ranges = append(s.ranges, rng)
	if rng == "" || s.noRange {
		s.full++
	}
	cut := s.breaks[name] > 0
	if cut {
		s.breaks[name]--
	}
	breakAt, noRange, delay := s.breakAt, s.noRange, s.delay
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	if noRange {
		r.Header.Del("Range")
	}
	out := w
	if cut {
		out = &breakingWriter{ResponseWriter: w, left: breakAt}
	}
	http.ServeContent(out, r, name, time.Time{}, bytes.NewReader(data))
}

// breakingWriter aborts the response (the client sees the connection
// close mid-body) once left bytes have been written.
type breakingWriter struct {
	http.ResponseWriter
	left int
}

func (b *breakingWriter) Write(p []byte) (int, error) {
	if len(p) > b.left {
		n, _ := b.ResponseWriter.Write(p[:b.left])
		b.left = 0
		if f, ok := b.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		_ = n
		panic(http.ErrAbortHandler)
	}
	b.left -= len(p)
	return b.ResponseWriter.Write(p)
}

func (s *site) requests() (ranges []string, full int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...), s.full
}
