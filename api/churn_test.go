package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lcnet/lcnet/api/client"
)

// TestLatestThroughChurn uploads a new version and deletes the previous
// one in a loop while clients classify with the latest version: a servable
// version exists at every moment, so every request must be answered 200,
// none 503 "being unloaded" or 500 for weights deleted under its load.
func TestLatestThroughChurn(t *testing.T) {
	f := newFake("m")
	f.loadDelay = 5 * time.Millisecond
	_, ts := newTestServer(t, f, nil)
	// A large image keeps each request between its load and its run (the
	// decode) for milliseconds, as real requests are.
	png := solid(t, "png", red, 512, 512)
	rounds := 40
	if testing.Short() {
		rounds = 15
	}
	stop := make(chan struct{})
	var (
		mu       sync.Mutex
		failures = map[string]int{}
		ok       atomic.Int32
		wg       sync.WaitGroup
	)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := do(t, "POST", ts.URL+"/v1/models/m/classify", "image/png", bytes.NewReader(png))
				if r.status == http.StatusOK {
					ok.Add(1)
					continue
				}
				var p client.Problem
				_ = json.Unmarshal(r.body, &p)
				mu.Lock()
				failures[fmt.Sprintf("%d %s", r.status, p.Detail)]++
				mu.Unlock()
			}
		}()
	}
	answered := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := int(ok.Load())
		for _, c := range failures {
			n += c
		}
		return n
	}
	// Enough requests must overlap the churn for a race to show (before
	// the fix, one in eight got 503), however slow the machine.
	prev, start := 1, time.Now()
	for i := 0; i < rounds || (answered() < 60 && time.Since(start) < 30*time.Second); i++ {
		body, ct := uploadBody(t, "m", "model.pdparams", []byte("x"))
		r := do(t, "POST", ts.URL+"/v1/models", ct, body)
		if r.status != http.StatusCreated {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
		v := decode[client.VersionInfo](t, r)
		time.Sleep(2 * time.Millisecond) // let requests resolve the new latest
		if r := do(t, "DELETE", ts.URL+"/v1/models/m/versions/"+strconv.Itoa(prev), "", nil); r.status != http.StatusNoContent {
			t.Fatalf("delete %d: %d %s", prev, r.status, r.body)
		}
		prev, _ = strconv.Atoi(v.Version)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d requests answered 200 during the churn", ok.Load())
	for what, n := range failures {
		t.Errorf("%d requests for latest answered %s", n, what)
	}
}

// TestLatestDeletedBeforeLoad deletes the newest version behind the
// server's back after a request resolved it but before it was loaded (as
// another replica sharing the store does): the request for latest is
// served by the newest version left, not failed by the missing weights.
func TestLatestDeletedBeforeLoad(t *testing.T) {
	f := newFake("m")
	f.add("m")
	s, ts := newTestServer(t, f, func(c *Config) { c.ResolveTTL = time.Minute })
	ctx := t.Context()
	if m, err := s.resolve(ctx, "m", ""); err != nil || m.Version != "2" {
		t.Fatalf("resolve: %+v %v", m, err)
	}
	if err := f.remove(ctx, "m", "2"); err != nil {
		t.Fatal(err)
	}
	r := do(t, "POST", ts.URL+"/v1/models/m/classify", "image/png", bytes.NewReader(solid(t, "png", red, 20, 20)))
	if r.status != http.StatusOK {
		t.Fatalf("latest after its version was deleted: %d %s", r.status, r.body)
	}
	if v := decode[client.ClassifyResponse](t, r).Version; v != "1" {
		t.Errorf("served by version %s, want 1", v)
	}
	// A version asked for by name is not replaced.
	r = do(t, "POST", ts.URL+"/v1/models/m/classify?version=2", "image/png", bytes.NewReader(solid(t, "png", red, 20, 20)))
	if r.status == http.StatusOK {
		t.Errorf("a deleted version asked for by name was served")
	}
}
