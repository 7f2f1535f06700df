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
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/sync/semaphore"
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
	// long the first request of a batch waits for others (2 ms) while
	// other requests for the model are decoding; otherwise it runs at once.
	MaxBatch  int
	BatchWait time.Duration
	// BatchParallel is how many batches of one model may run at once (2).
	BatchParallel int
	// DecodeParallel bounds the images being decoded at once over all
	// requests (2 x GOMAXPROCS): the CPU side of the decode budget.
	DecodeParallel int
	// DecodeBudget bounds the bytes all images being decoded at once may
	// take, as imaging.DecodeCost estimates them from their headers
	// (384 MiB). An image waits, up to its request's deadline, until its
	// bytes are free. A quarter is kept for images up to a sixteenth of it,
	// so ordinary photos do not queue behind large ones. A process with a
	// memory limit should size it with DefaultDecodeBudget.
	DecodeBudget int64
	// MaxDecodeBytes refuses with 413, from the header, an image whose
	// decoding alone would take more (256 MiB, at most three quarters of
	// DecodeBudget): a 64 Mpx 8-bit RGB PNG fits, a 16-bit one does not.
	MaxDecodeBytes int64
	// Decode is how JPEG uploads are decoded for models whose manifest
	// and request say nothing (imaging.DecodeExact).
	Decode imaging.DecodeMode
	// QueueSize is how many requests may wait per model before the server
	// answers 429 (64).
	QueueSize int
	// RequestTimeout bounds every request except uploads (30 s).
	RequestTimeout time.Duration
	// WriteTimeout is how long past its request's deadline a response may
	// take to write (10 s): a client that sends a request and never reads
	// the answer is cut off then, and its handler's memory freed.
	WriteTimeout time.Duration
	// ShutdownTimeout bounds the drain after a stop (30 s): connections
	// still busy then are closed, the cut is logged, and Serve returns nil.
	ShutdownTimeout time.Duration
	// MaxUploads is how many model uploads may run at once (2); more get
	// 429 with Retry-After. Each stages up to MaxUploadBytes on disk and
	// converts in memory.
	MaxUploads int
	// CORSOrigins are the browser origins (scheme://host[:port]) allowed
	// to call the API from another site, model management included.
	// Without them a state-changing request carrying a foreign Origin is
	// refused, whatever the API key, so a web page cannot plant models.
	CORSOrigins []string
	// AllowedHosts are Host header values (name or name:port) accepted
	// besides localhost, 127.0.0.1, [::1] and the listen address. With
	// none, a server bound to loopback accepts only those, which defeats
	// DNS rebinding; one bound elsewhere accepts any Host.
	AllowedHosts []string
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
	// JobQueue is how many fine-tuning jobs may wait behind the running
	// one before POST .../finetune answers 429 (4). TempDir is where their
	// uploads are spooled and extracted (os.TempDir()).
	JobQueue int
	TempDir  string

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
	def(&c.JobQueue, 4)
	def(&c.DecodeParallel, 2*runtime.GOMAXPROCS(0))
	if c.DecodeBudget <= 0 {
		c.DecodeBudget = defaultDecodeBudget
	}
	if c.MaxDecodeBytes <= 0 {
		c.MaxDecodeBytes = 256 << 20
	}
	c.MaxDecodeBytes = min(c.MaxDecodeBytes, c.DecodeBudget-c.DecodeBudget/4)
	if c.BatchWait == 0 {
		c.BatchWait = 2 * time.Millisecond
	}
	defDur(&c.RequestTimeout, 30*time.Second)
	defDur(&c.WriteTimeout, 10*time.Second)
	defDur(&c.ShutdownTimeout, 30*time.Second)
	def(&c.MaxUploads, 2)
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
	cfg          Config
	log          *slog.Logger
	be           backend
	cache        *modelCache
	met          *metrics
	router       chi.Router
	pulls        singleflight.Group
	draining     atomic.Bool // refusing new inference: Shutdown has begun
	stopping     atomic.Bool // told to stop: not ready, still serving
	decodeBudget *decodeBudget
	uploads      *semaphore.Weighted // MaxUploads
	listen       atomic.Pointer[net.TCPAddr]
	// life ends at Close, which stops the inference still running.
	life     context.Context
	endLife  context.CancelFunc
	resolved resolveCache
	jobs     *jobQueue
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
	s := &Server{cfg: cfg, log: cfg.Logger, be: be, met: newMetrics(),
		decodeBudget: newDecodeBudget(cfg.DecodeBudget, cfg.DecodeParallel, runtime.GOMAXPROCS(0)),
		uploads:      semaphore.NewWeighted(int64(cfg.MaxUploads))}
	s.life, s.endLife = context.WithCancel(context.Background())
	s.cache = newModelCache(s.life, be, cfg, s.met, cfg.Logger)
	s.resolved.ttl = cfg.ResolveTTL
	s.jobs = newJobQueue(cfg.JobQueue)
	s.router = s.routes()
	return s, nil
}

// Handler is the server's router with all its middleware.
func (s *Server) Handler() http.Handler { return s.router }

// Close unloads every model. Requests still running get 503, and the
// batches they wait for are stopped.
func (s *Server) Close() {
	s.draining.Store(true)
	s.endLife()
	s.jobs.close()
	s.cache.close()
}

// ListenAndServe serves on addr until ctx is done, then drains: the
// listener closes, requests in flight complete (up to ShutdownTimeout,
// after which their connections are closed), the models unload, and it
// returns nil.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is ListenAndServe on a listener the caller opened.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		s.listen.Store(a)
	}
	var conns connCount
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// The deadline middleware sets each response's write deadline;
		// this covers what it does not wrap (unknown routes).
		WriteTimeout: s.cfg.RequestTimeout + s.cfg.WriteTimeout,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnState:    conns.track,
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
	// From here every response carries Connection: close (closeWhenStopping),
	// so keep-alive clients leave after their current answer rather than
	// send a request on a connection the drain is about to close.
	s.stopping.Store(true)
	if s.cfg.ShutdownGrace > 0 {
		s.log.Info("shutting down: not ready, serving queued connections", "grace", s.cfg.ShutdownGrace)
		time.Sleep(s.cfg.ShutdownGrace)
	}
	s.log.Info("shutting down: draining requests in flight", "timeout", s.cfg.ShutdownTimeout,
		"active", conns.active.Load(), "idle", conns.idle.Load())
	s.draining.Store(true)
	hs.SetKeepAlivesEnabled(false)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		// The drain's deadline is a decision, not a failure: the
		// requests still running are cut and the process exits cleanly.
		s.log.Warn("shutdown timeout reached: closing the connections still open",
			"timeout", s.cfg.ShutdownTimeout, "active", conns.active.Load(), "idle", conns.idle.Load(), "err", err)
		_ = hs.Close()
	}
	s.Close()
	s.log.Info("stopped")
	return nil
}

// connCount follows http.Server's connection states, for the drain's logs.
type connCount struct {
	active, idle atomic.Int64
	mu           sync.Mutex
	state        map[net.Conn]http.ConnState
}

func (c *connCount) track(conn net.Conn, st http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == nil {
		c.state = map[net.Conn]http.ConnState{}
	}
	counter := func(st http.ConnState) *atomic.Int64 {
		switch st {
		case http.StateActive:
			return &c.active
		case http.StateIdle:
			return &c.idle
		}
		return nil
	}
	if n := counter(c.state[conn]); n != nil {
		n.Add(-1)
	}
	if n := counter(st); n != nil {
		n.Add(1)
	}
	if st == http.StateClosed || st == http.StateHijacked {
		delete(c.state, conn)
		return
	}
	c.state[conn] = st
}
