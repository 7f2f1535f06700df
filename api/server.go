package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/sync/singleflight"

	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/zoo"
)

// Config is everything a Server depends on. Zero values get the defaults
// documented on each field.
type Config struct {
	// Zoo is the model registry the server serves from.
	Zoo *zoo.Zoo
	// Threads is how many threads each loaded network uses (0: all cores).
	Threads int
	// APIKey, when set, is required as "Authorization: Bearer KEY" to
	// upload and delete models. Without it those routes are open.
	APIKey string
	// DefaultModel (NAME or NAME:VERSION) is what POST /classify and
	// /features use when a request names none.
	DefaultModel string
	// MaxBodyBytes caps classify, features and infer bodies (32 MiB).
	MaxBodyBytes int64
	// MaxUploadBytes caps model uploads (1 GiB).
	MaxUploadBytes int64
	// MaxPixels refuses larger images before decoding them (64 Mpx).
	MaxPixels int
	// MaxImages is the most images one request may carry (64).
	MaxImages int
	// MaxBatch is the most images per network call (16); BatchWait is how
	// long the first request of a batch waits for others (2 ms).
	MaxBatch  int
	BatchWait time.Duration
	// BatchParallel is how many batches of one model may run at once (2).
	BatchParallel int
	// DecodeParallel bounds the images being decoded at once over all
	// requests (2 x GOMAXPROCS), which bounds the memory decoded pixels
	// take however many clients upload at once.
	DecodeParallel int
	// Decode is how JPEG uploads are decoded for models whose manifest
	// and request say nothing (imaging.DecodeExact).
	Decode imaging.DecodeMode
	// QueueSize is how many requests may wait per model before the server
	// answers 429 (64).
	QueueSize int
	// RequestTimeout bounds every request except uploads (30 s).
	RequestTimeout time.Duration
	// ResolveTTL is how long the server trusts what NAME (the latest
	// version) and NAME:VERSION resolved to before asking the store again
	// (1 s; negative: always ask).
	ResolveTTL time.Duration
	// UploadTimeout bounds model uploads and their conversion (10 min).
	UploadTimeout time.Duration
	// ShutdownGrace is how long the server keeps accepting and serving
	// after it is told to stop, with /readyz already answering 503, before
	// it closes the listener and drains (200 ms; negative: none).
	// Connections a client opened just before the signal wait in the
	// kernel's accept queue, and closing the listener at once resets them.
	ShutdownGrace time.Duration
	Logger        *slog.Logger
	// Puller, when set, downloads a model the zoo lacks on first request.
	Puller Puller

	// backend replaces the zoo in tests of the HTTP layer alone.
	backend backend
}

// Puller fetches catalog models on demand (lcnet serve --pull);
// package pull implements it.
type Puller interface {
	// Pull makes sure name is in the zoo, downloading and importing it if
	// not. Concurrent calls for one name share one download. A name the
	// catalog lacks is an error wrapping pull.ErrUnknownModel (a 404).
	Pull(ctx context.Context, name string, progress func(done, total int64)) (zoo.Manifest, error)
	// Progress reports a download under way (total -1 while unknown).
	Progress(name string) (done, total int64, ok bool)
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 32 << 20
	}
	if c.MaxUploadBytes <= 0 {
		c.MaxUploadBytes = 1 << 30
	}
	def(&c.MaxPixels, 64_000_000)
	def(&c.MaxImages, 64)
	def(&c.MaxBatch, 16)
	def(&c.QueueSize, 64)
	def(&c.BatchParallel, 2)
	def(&c.DecodeParallel, 2*runtime.GOMAXPROCS(0))
	if c.BatchWait == 0 {
		c.BatchWait = 2 * time.Millisecond
	}
	defDur(&c.RequestTimeout, 30*time.Second)
	if c.ResolveTTL == 0 {
		c.ResolveTTL = time.Second
	}
	defDur(&c.UploadTimeout, 10*time.Minute)
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 200 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Server is the lcnet HTTP API. Create it with New, serve Handler (or call
// ListenAndServe), and Close it to unload the models.
type Server struct {
	cfg      Config
	log      *slog.Logger
	be       backend
	cache    *modelCache
	met      *metrics
	router   chi.Router
	pulls    singleflight.Group
	draining atomic.Bool   // refusing new inference: Shutdown has begun
	stopping atomic.Bool   // told to stop: not ready, still serving
	decoding chan struct{} // DecodeParallel slots
	resolved resolveCache
}

// New checks cfg and builds the server; models load on first use.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	be := cfg.backend
	if be == nil {
		if cfg.Zoo == nil {
			return nil, errors.New("api.New: Config.Zoo is nil")
		}
		be = newZooBackend(cfg.Zoo, cfg.Threads)
	}
	if cfg.DefaultModel != "" {
		if _, _, err := zoo.ParseRef(cfg.DefaultModel); err != nil {
			return nil, fmt.Errorf("api.New: default model: %w", err)
		}
	}
	s := &Server{cfg: cfg, log: cfg.Logger, be: be, met: newMetrics(), decoding: make(chan struct{}, cfg.DecodeParallel)}
	s.cache = newModelCache(be, cfg, s.met, cfg.Logger)
	s.resolved.ttl = cfg.ResolveTTL
	s.router = s.routes()
	return s, nil
}

// Handler is the server's router with all its middleware.
func (s *Server) Handler() http.Handler { return s.router }

// Close unloads every model. Requests still running get 503.
func (s *Server) Close() {
	s.draining.Store(true)
	s.cache.close()
}

// ListenAndServe serves on addr until ctx is done, then drains: the
// listener closes, requests in flight complete (up to the request
// timeout), the models unload, and it returns nil.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is ListenAndServe on a listener the caller opened.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go s.sweepDeleted(sweepCtx, s.sweepInterval())
	s.log.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		s.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.stopping.Store(true)
	if s.cfg.ShutdownGrace > 0 {
		s.log.Info("shutting down: not ready, serving queued connections", "grace", s.cfg.ShutdownGrace)
		time.Sleep(s.cfg.ShutdownGrace)
	}
	s.log.Info("shutting down: draining requests in flight")
	s.draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout+5*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	s.Close()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	s.log.Info("stopped")
	return nil
}
