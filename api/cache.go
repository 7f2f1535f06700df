package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/zoo"
)

// modelCache loads model versions on first use and keeps them, each with
// its batcher, until the version is deleted or the server closes. Loads
// are shared: concurrent requests for a version that is loading wait on
// the one load. A failed load is not cached, so a repaired store is
// picked up by the next request.
type modelCache struct {
	be  backend
	cfg Config
	met *metrics
	log *slog.Logger

	mu      sync.Mutex
	entries map[string]*cacheEntry
	closed  bool
}

type cacheEntry struct {
	ready chan struct{} // closed when the load ended
	m     zoo.Manifest
	pre   *imaging.Preprocessor // m.Preprocess, shared by every request
	run   runner
	b     *batcher
	err   error
}

func newModelCache(be backend, cfg Config, met *metrics, log *slog.Logger) *modelCache {
	return &modelCache{be: be, cfg: cfg, met: met, log: log, entries: map[string]*cacheEntry{}}
}

func cacheKey(name, version string) string { return name + ":" + version }

// get returns the loaded version m, loading it if needed.
func (c *modelCache) get(ctx context.Context, m zoo.Manifest) (*cacheEntry, error) {
	e, err := c.start(m)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, &httpError{status: http.StatusServiceUnavailable,
			detail:     fmt.Sprintf("model %s:%s is still loading: %v", m.Name, m.Version, ctx.Err()),
			retryAfter: 2 * time.Second, err: ctx.Err()}
	}
	if e.err != nil {
		return nil, e.err
	}
	return e, nil
}

// loaded reports whether m is loaded, without starting a load.
func (c *modelCache) loaded(m zoo.Manifest) bool {
	c.mu.Lock()
	e := c.entries[cacheKey(m.Name, m.Version)]
	c.mu.Unlock()
	if e == nil {
		return false
	}
	select {
	case <-e.ready:
		return e.err == nil
	default:
		return false
	}
}

// start begins loading m unless it is loaded or loading.
func (c *modelCache) start(m zoo.Manifest) (*cacheEntry, error) {
	key := cacheKey(m.Name, m.Version)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, &httpError{status: http.StatusServiceUnavailable, detail: "server shutting down", retryAfter: time.Second, err: errShuttingDown}
	}
	e, ok := c.entries[key]
	if !ok {
		e = &cacheEntry{ready: make(chan struct{}), m: m}
		c.entries[key] = e
		go c.load(key, e)
	}
	return e, nil
}

func (c *modelCache) load(key string, e *cacheEntry) {
	start := time.Now()
	// The load is shared by every waiting request, so no one request's
	// context may cancel it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pre, err := imaging.NewPreprocessor(e.m.Preprocess)
	var run runner
	if err == nil {
		run, err = c.be.load(ctx, e.m)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		e.err = fmt.Errorf("loading model %s: %w", key, err)
		if c.entries[key] == e {
			delete(c.entries, key)
		}
		c.log.Error("model load failed", "model", key, "err", err)
		close(e.ready)
		return
	}
	if c.closed || c.entries[key] != e {
		// Deleted or shut down while loading.
		run.close()
		e.err = &httpError{status: http.StatusServiceUnavailable, detail: fmt.Sprintf("model %s was unloaded while loading", key), retryAfter: time.Second, err: errShuttingDown}
		close(e.ready)
		return
	}
	e.run, e.pre = run, pre
	e.b = newBatcher(key, run, c.cfg, c.met)
	c.met.loaded.Inc()
	c.log.Info("model loaded", "model", key, "took", time.Since(start).Round(time.Millisecond))
	close(e.ready)
}

// evict unloads name:version (every version when version is ""). Requests
// already queued on it finish first.
func (c *modelCache) evict(name, version string) {
	c.mu.Lock()
	var gone []*cacheEntry
	for key, e := range c.entries {
		if e.m.Name == name && (version == "" || e.m.Version == version) {
			gone = append(gone, e)
			delete(c.entries, key)
		}
	}
	c.mu.Unlock()
	for _, e := range gone {
		c.unload(e)
	}
}

func (c *modelCache) unload(e *cacheEntry) {
	<-e.ready
	if e.err != nil || e.b == nil {
		return
	}
	e.b.close()
	e.run.close()
	c.met.loaded.Dec()
	c.log.Info("model unloaded", "model", cacheKey(e.m.Name, e.m.Version))
}

// manifests lists the versions loaded or loading.
func (c *modelCache) manifests() []zoo.Manifest {
	c.mu.Lock()
	defer c.mu.Unlock()
	ms := make([]zoo.Manifest, 0, len(c.entries))
	for _, e := range c.entries {
		ms = append(ms, e.m)
	}
	return ms
}

// close unloads everything; later gets fail with 503.
func (c *modelCache) close() {
	c.mu.Lock()
	c.closed = true
	all := make([]*cacheEntry, 0, len(c.entries))
	for key, e := range c.entries {
		all = append(all, e)
		delete(c.entries, key)
	}
	c.mu.Unlock()
	for _, e := range all {
		c.unload(e)
	}
}
