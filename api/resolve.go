package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lcnet/lcnet/pull"
	"github.com/lcnet/lcnet/storage"
	"github.com/lcnet/lcnet/zoo"
)

// resolve finds name:version in the zoo. When the zoo has no such model
// and a Puller is configured, it pulls the model first; concurrent
// requests for one name wait on one pull.
func (s *Server) resolve(ctx context.Context, name, version string) (zoo.Manifest, error) {
	if m, ok := s.resolved.get(name, version); ok {
		return m, nil
	}
	m, err := s.resolveUncached(ctx, name, version)
	if err == nil {
		s.resolved.put(name, version, m)
	}
	return m, err
}

func (s *Server) resolveUncached(ctx context.Context, name, version string) (zoo.Manifest, error) {
	m, err := s.be.resolve(ctx, name, version)
	if err == nil || s.cfg.Puller == nil || !errors.Is(err, zoo.ErrNotFound) {
		return m, err
	}
	if version != "" {
		// A pull creates the next version, not a named one; if the model
		// exists, asking for a missing version is a plain 404.
		if _, lerr := s.be.resolve(ctx, name, ""); lerr == nil {
			return m, err
		}
	}
	ch := s.pulls.DoChan(name, func() (any, error) {
		// The pull outlives the request that started it: others may be
		// waiting on it, and a finished download is worth keeping.
		pctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		return s.cfg.Puller.Pull(pctx, name, nil)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			if errors.Is(res.Err, pull.ErrUnknownModel) {
				return zoo.Manifest{}, fmt.Errorf("%w; and the pull catalog has no such model: %v", err, res.Err)
			}
			return zoo.Manifest{}, &httpError{status: http.StatusServiceUnavailable,
				detail: fmt.Sprintf("model %q is not in the zoo and pulling it failed: %v", name, res.Err), retryAfter: 30 * time.Second, err: res.Err}
		}
		// The catalog matches names loosely (case, "PP-" prefix): look the
		// model up under the name it was imported as, not as it was asked.
		if pulled, ok := res.Val.(zoo.Manifest); ok && pulled.Name != "" {
			name = pulled.Name
		}
	case <-ctx.Done():
		return zoo.Manifest{}, &httpError{status: http.StatusServiceUnavailable,
			detail: fmt.Sprintf("model %q is still downloading; see GET /v1/models/%s for progress", name, name), retryAfter: 10 * time.Second, err: ctx.Err()}
	}
	return s.be.resolve(ctx, name, version)
}

// sweepInterval is how often a serving replica checks that the versions
// it holds are still in the store: five resolve TTLs, at least 5 s.
func (s *Server) sweepInterval() time.Duration {
	return max(5*s.cfg.ResolveTTL, 5*time.Second)
}

// sweepDeleted unloads, every interval until ctx ends, the loaded versions
// the store no longer has: deleted through another replica sharing the
// store, they would otherwise hold their memory until this one restarts
// (requests for them already answer 404 once the resolve TTL passes).
func (s *Server) sweepDeleted(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, m := range s.cache.manifests() {
			if _, err := s.be.resolve(ctx, m.Name, m.Version); errors.Is(err, zoo.ErrNotFound) {
				s.log.Info("unloading a model version deleted from the store", "model", m.Name+":"+m.Version)
				s.cache.evict(m.Name, m.Version)
			}
		}
	}
}

// loadRef resolves and loads a model named by the path and ?version=.
func (s *Server) loadRef(ctx context.Context, name, version string) (*cacheEntry, error) {
	if s.draining.Load() {
		s.met.rejected.WithLabelValues("shutting_down").Inc()
		return nil, &httpError{status: http.StatusServiceUnavailable, detail: "server shutting down", retryAfter: time.Second, err: errShuttingDown}
	}
	m, err := s.resolve(ctx, name, version)
	if err != nil {
		return nil, err
	}
	e, err := s.cache.get(ctx, m)
	if version != "" && version != zoo.Latest {
		return e, err
	}
	// The newest version was deleted between its resolution (perhaps a
	// cached one, or by another replica) and its load, or unloaded while
	// it loaded: ask the store again for the newest that is left. Under
	// steady upload-and-delete churn the next one may go the same way, so
	// a few times, each resolution fresh.
	for range maxLatestRetries {
		if err == nil || !versionGone(err) {
			return e, err
		}
		s.resolved.forget(name)
		m2, rerr := s.resolve(ctx, name, version)
		if rerr != nil || m2.Version == m.Version {
			return nil, err
		}
		m = m2
		e, err = s.cache.get(ctx, m)
	}
	if err != nil && versionGone(err) {
		return nil, &httpError{status: http.StatusServiceUnavailable, retryAfter: time.Second, err: err,
			detail: fmt.Sprintf("model %s: its newest versions were deleted while this request loaded them; retry", name)}
	}
	return e, err
}

// maxLatestRetries bounds how often a request for latest follows a
// version that went away under it.
const maxLatestRetries = 4

// versionGone reports whether a load failed because its version no
// longer exists or was unloaded under it.
func versionGone(err error) bool {
	return errors.Is(err, zoo.ErrNotFound) || errors.Is(err, storage.ErrNotExist) || errors.Is(err, errUnloaded)
}

// defaultRef picks the model for /classify and /features when the request
// names none: the configured default, else the zoo's only model.
func (s *Server) defaultRef(ctx context.Context) (name, version string, err error) {
	if s.cfg.DefaultModel != "" {
		return zoo.ParseRef(s.cfg.DefaultModel)
	}
	ms, err := s.be.models(ctx)
	if err != nil {
		return "", "", err
	}
	switch len(ms) {
	case 0:
		return "", "", problemf(http.StatusNotFound, "the zoo is empty: add a model with 'lcnet convert FILE --name NAME', 'lcnet pull PPLCNet_x1_0' or POST /v1/models")
	case 1:
		return ms[0].Name, "", nil
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	sort.Strings(names)
	return "", "", &httpError{status: http.StatusBadRequest, models: names,
		detail: fmt.Sprintf("the server has %d models and no default: name one with ?model=NAME[:VERSION] (one of %s)", len(names), strings.Join(names, ", "))}
}

// run sends a preprocessed batch through e's batcher; pooled is
// batcher.infer's: x came from e.b.inputs and must not be used after.
func (s *Server) run(ctx context.Context, e *cacheEntry, x []float32, n, h, w int, pooled bool) (*output, error) {
	return e.b.infer(ctx, x, n, h, w, pooled)
}

// resolveCache remembers recent resolutions for a short time. Every
// inference request resolves its model, and on an object store (S3) that
// is a list and a get per request; versions are immutable, so only
// "latest" can change, and a second of staleness is acceptable. Uploads and
// deletes through this server forget the model at once.
type resolveCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[[2]string]resolved
}

type resolved struct {
	m       zoo.Manifest
	expires time.Time
}

func (c *resolveCache) get(name, version string) (zoo.Manifest, bool) {
	if c.ttl <= 0 {
		return zoo.Manifest{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[[2]string{name, version}]
	if !ok || time.Now().After(r.expires) {
		return zoo.Manifest{}, false
	}
	return r.m, true
}

func (c *resolveCache) put(name, version string, m zoo.Manifest) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 4096 {
		c.m = map[[2]string]resolved{} // bounded: names come from requests
	}
	c.m[[2]string{name, version}] = resolved{m: m, expires: time.Now().Add(c.ttl)}
}

func (c *resolveCache) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if k[0] == name {
			delete(c.m, k)
		}
	}
}
