package api

import (
	"context"
	"errors"
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
	// base ends when the server gives up on its drain; batches run under it.
	base context.Context
	be   backend
	cfg  Config
	met  *metrics
	log  *slog.Logger

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
	// users counts the requests that got this entry and are not done: an
	// evicted version unloads only after the last one, so a request that
	// found a version is served by it even if the version is deleted
	// meanwhile. Added to under modelCache.mu while the entry is in the
	// map, so no Add follows the Wait of an eviction.
	users sync.WaitGroup
}

// errUnloaded is a load whose version was evicted before it finished.
var errUnloaded = errors.New("model version unloaded")

func newModelCache(base context.Context, be backend, cfg Config, met *metrics, log *slog.Logger) *modelCache {
	return &modelCache{base: base, be: be, cfg: cfg, met: met, log: log, entries: map[string]*cacheEntry{}}
}

func cacheKey(name, version string) string { return name + ":" + version }

// get returns the loaded version m, loading it if needed. The entry stays
// usable until ctx is done (for a request: until its handler returns).
func (c *modelCache) get(ctx context.Context, m zoo.Manifest) (*cacheEntry, error) {
	e, err := c.start(m)
	if err != nil {
		return nil, err
	}
	if !c.use(ctx, e) {
		// A load that failed takes its entry out of the map at once, and
		// may do so before this request counts itself in: the answer is
		// then the load's error, not an unload.
		select {
		case <-e.ready:
			if e.err != nil {
				return nil, e.err
			}
		default:
		}
		return nil, &httpError{status: http.StatusServiceUnavailable, detail: fmt.Sprintf("model %s:%s was unloaded", m.Name, m.Version),
			retryAfter: time.Second, err: errUnloaded}
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

// use counts ctx as a user of e until ctx is done, unless e was evicted
// since it was found.
func (c *modelCache) use(ctx context.Context, e *cacheEntry) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[cacheKey(e.m.Name, e.m.Version)] != e {
		return false
	}
	e.users.Add(1)
	context.AfterFunc(ctx, e.users.Done)
	return true
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
	if err != nil {
		// The zoo refuses such manifests when it reads them; a backend
		// that does not still must not serve them.
		err = fmt.Errorf("%w: %w", zoo.ErrBadManifest, err)
	}
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
	if c.closed {
		run.close()
		e.err = &httpError{status: http.StatusServiceUnavailable, detail: fmt.Sprintf("model %s was unloaded while loading", key), retryAfter: time.Second, err: errUnloaded}
		close(e.ready)
		return
	}
	e.run, e.pre = run, pre
	e.b = newBatcher(c.base, key, run, c.cfg, c.met)
	if c.entries[key] != e {
		// Evicted while loading: the requests that found it are served,
		// and evict's goroutine unloads it after them.
		c.log.Info("model loaded after its eviction; serving the requests that found it", "model", key)
		close(e.ready)
		return
	}
	c.met.loaded.Inc()
	c.log.Info("model loaded", "model", key, "took", time.Since(start).Round(time.Millisecond))
	close(e.ready)
}

// evict unloads name:version (every version when version is ""): new
// requests no longer find it at once, and it is unloaded in the background
// once the requests that did find it are done.
func (c *modelCache) evict(name, version string) {
	c.mu.Lock()
	var gone []*cacheEntry
	for key, e := range c.entries {
		if e.m.Name == name && (version == "" || e.m.Version == version) {
			gone = append(gone, e)
			c.remove(key, e)
		}
	}
	c.mu.Unlock()
	for _, e := range gone {
		go func() {
			e.users.Wait()
			c.unload(e)
		}()
	}
}

// remove takes e out of the map; c.mu is held. A loaded entry stops
// counting as loaded now; one still loading never will (load sees it gone).
func (c *modelCache) remove(key string, e *cacheEntry) {
	delete(c.entries, key)
	select {
	case <-e.ready:
		if e.err == nil {
			c.met.loaded.Dec()
		}
	default:
	}
}

// unload stops e's batcher, after the jobs already queued, and frees the
// network.
func (c *modelCache) unload(e *cacheEntry) {
	<-e.ready
	if e.err != nil || e.b == nil {
		return
	}
	e.b.close()
	e.run.close()
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
		c.remove(key, e)
	}
	c.mu.Unlock()
	for _, e := range all {
		c.unload(e)
	}
}
