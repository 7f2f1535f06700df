package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/pull"
	"github.com/lcnet/lcnet/zoo"
)

type fakePuller struct {
	f     *fakeBackend
	pulls sync.Mutex
	n     int
	fail  error
	delay time.Duration
	// as, when set, is the catalog's spelling the model is imported under.
	as string
}

func (p *fakePuller) Pull(ctx context.Context, name string, progress func(done, total int64)) (zoo.Manifest, error) {
	p.pulls.Lock()
	p.n++
	p.pulls.Unlock()
	time.Sleep(p.delay)
	if p.fail != nil {
		return zoo.Manifest{}, p.fail
	}
	if p.as != "" {
		name = p.as
	}
	return p.f.add(name), nil
}

func (p *fakePuller) Progress(name string) (int64, int64, bool) { return 5, 10, true }

func TestPullOnDemand(t *testing.T) {
	png := solid(t, "png", red, 20, 20)
	t.Run("one pull for concurrent requests", func(t *testing.T) {
		f := newFake()
		p := &fakePuller{f: f, delay: 100 * time.Millisecond}
		_, ts := newTestServer(t, f, func(c *Config) { c.Puller = p })
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				if r := do(t, "POST", ts.URL+"/v1/models/PPLCNet_x0_25/classify", "image/png", bytes.NewReader(png)); r.status != 200 {
					t.Errorf("%d %s", r.status, r.body)
				}
			})
		}
		wg.Wait()
		if p.n != 1 {
			t.Errorf("%d pulls, want 1", p.n)
		}
		if m := decode[client.Model](t, do(t, "GET", ts.URL+"/v1/models/PPLCNet_x0_25", "", nil)); m.Pull == nil || m.Pull.Total != 10 {
			t.Errorf("progress not reported: %+v", m)
		}
	})
	t.Run("served under the catalog's spelling", func(t *testing.T) {
		f := newFake()
		p := &fakePuller{f: f, as: "PPLCNet_x0_25"}
		_, ts := newTestServer(t, f, func(c *Config) { c.Puller = p })
		r := do(t, "POST", ts.URL+"/v1/models/pplcnet_x0_25/classify", "image/png", bytes.NewReader(png))
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if c := decode[client.ClassifyResponse](t, r); c.Model != "PPLCNet_x0_25" {
			t.Errorf("answered as %q, want the imported name PPLCNet_x0_25", c.Model)
		}
	})
	t.Run("failure is 503", func(t *testing.T) {
		f := newFake()
		p := &fakePuller{f: f, fail: errors.New("connection refused")}
		_, ts := newTestServer(t, f, func(c *Config) { c.Puller = p })
		r := do(t, "POST", ts.URL+"/v1/models/PPLCNet_x1_0/classify", "image/png", bytes.NewReader(png))
		checkProblem(t, r, 503, "connection refused")
	})
	t.Run("not in the catalog is 404", func(t *testing.T) {
		f := newFake()
		p := &fakePuller{f: f, fail: fmt.Errorf(`%w "zzz"`, pull.ErrUnknownModel)}
		_, ts := newTestServer(t, f, func(c *Config) { c.Puller = p })
		checkProblem(t, do(t, "POST", ts.URL+"/v1/models/zzz/classify", "image/png", bytes.NewReader(png)), 404, "zzz")
	})
}

func TestResolveCache(t *testing.T) {
	f := newFake("m")
	_, ts := newTestServer(t, f, func(c *Config) { c.ResolveTTL = 200 * time.Millisecond })
	png := solid(t, "png", red, 20, 20)
	version := func() string {
		return decode[client.ClassifyResponse](t, do(t, "POST", ts.URL+"/v1/models/m/classify", "image/png", bytes.NewReader(png))).Version
	}
	if v := version(); v != "1" {
		t.Fatalf("version %s", v)
	}
	f.add("m") // as another replica's upload would
	if v := version(); v != "1" {
		t.Errorf("latest changed within the TTL: %s", v)
	}
	time.Sleep(250 * time.Millisecond)
	if v := version(); v != "2" {
		t.Errorf("latest after the TTL: %s, want 2", v)
	}
	// Deleting through this server is seen at once.
	if r := do(t, "DELETE", ts.URL+"/v1/models/m/versions/2", "", nil); r.status != 204 {
		t.Fatal(r.status)
	}
	if v := version(); v != "1" {
		t.Errorf("latest right after deleting 2: %s, want 1", v)
	}
}

// TestSweepUnloadsDeletedVersions deletes a loaded version behind the
// server's back, as another replica sharing the store does, and checks
// that the sweep unloads it and keeps the versions still in the store.
func TestSweepUnloadsDeletedVersions(t *testing.T) {
	f := newFake("keep", "doomed")
	s, err := New(Config{backend: f, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, name := range []string{"keep", "doomed"} {
		if _, err := s.loadRef(ctx, name, ""); err != nil {
			t.Fatalf("load %s: %v", name, err)
		}
	}
	doomed, err := f.resolve(ctx, "doomed", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.remove(ctx, "doomed", doomed.Version); err != nil {
		t.Fatal(err)
	}
	go s.sweepDeleted(ctx, 10*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var names []string
		for _, m := range s.cache.manifests() {
			names = append(names, m.Name)
		}
		if len(names) == 1 && names[0] == "keep" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("loaded after the sweep: %v; want only keep", names)
		}
		time.Sleep(10 * time.Millisecond)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "\nlcnet_models_loaded 1\n") {
		t.Errorf("/metrics after the sweep does not say lcnet_models_loaded 1")
	}
}
