package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// liveHeap is the heap still reachable after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestWriteDeadlineFreesStuckClients has clients send a request and never
// read the answer: once the write deadline passes, their handlers return
// and the memory of the responses they were writing is freed.
func TestWriteDeadlineFreesStuckClients(t *testing.T) {
	const clients, size = 10, 32 << 20
	const d, write = time.Second, 500 * time.Millisecond
	var running, started, freed atomic.Int32
	var lastStart atomic.Int64
	h := deadline(d, write)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		running.Add(1)
		started.Add(1)
		lastStart.Store(time.Now().UnixNano())
		defer running.Add(-1)
		body := bytes.Repeat([]byte{'x'}, size)
		// The finalizer tells this response's memory apart from whatever
		// the package's other tests still hold on the shared heap.
		runtime.SetFinalizer(&body[0], func(*byte) { freed.Add(1) })
		_, _ = w.Write(body)
	}))
	ts := httptest.NewServer(h)
	defer ts.Close()
	base := liveHeap()
	for range clients {
		c, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.(*net.TCPConn).SetReadBuffer(4096)
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	for started.Load() < clients {
		time.Sleep(time.Millisecond)
	}
	held := int64(liveHeap()) - int64(base)
	// Past the last handler's write deadline, with room for the
	// collection and the handlers' return.
	time.Sleep(time.Until(time.Unix(0, lastStart.Load()).Add(d + write + 300*time.Millisecond)))
	// Finalizers run on their own goroutine after the collection.
	for wait := time.Now().Add(2 * time.Second); freed.Load() < clients && time.Now().Before(wait); {
		time.Sleep(20 * time.Millisecond)
		runtime.GC()
	}
	grown := int64(liveHeap()) - int64(base)
	t.Logf("%d clients that never read: %d MiB held while writing; past the write deadline %d handlers run, %d of %d responses freed, heap %d MiB above its start",
		clients, held>>20, running.Load(), freed.Load(), clients, grown>>20)
	if n := running.Load(); n != 0 {
		t.Errorf("%d handlers still writing past the write deadline", n)
	}
	if n := freed.Load(); n != clients {
		t.Errorf("%d of %d responses of %d MiB still reachable past the write deadline", clients-n, clients, size>>20)
	}
	if held < clients*size/2 {
		t.Errorf("the stuck responses held only %d MiB: the test did not reach its clients", held>>20)
	}
}

// TestShutdownTimeout has a request that would run for the whole request
// timeout when the server is stopped: the drain gives up at
// ShutdownTimeout, closes it, and Serve returns nil (exit 0).
func TestShutdownTimeout(t *testing.T) {
	f := newFake("m")
	f.gate = make(chan struct{}) // inference blocks until its deadline
	s, err := New(Config{backend: f, RequestTimeout: 30 * time.Second, ShutdownTimeout: 300 * time.Millisecond,
		ShutdownGrace: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	go func() {
		_, _, _ = post(t.Context(), "http://"+ln.Addr().String()+"/v1/models/m/classify", "image/png", solid(t, "png", red, 8, 8))
	}()
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	start := time.Now()
	select {
	case err := <-served:
		t.Logf("Serve returned %v %v after the stop", err, time.Since(start).Round(time.Millisecond))
		if err != nil {
			t.Errorf("Serve after a drain that reached its deadline: %v, want nil", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("the drain took %v with a 300ms ShutdownTimeout", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return 10 s after the stop with a 300ms ShutdownTimeout")
	}
}

// TestShutdownKeepAlive stops a server under keep-alive traffic from a
// few clients: none may see a reused keep-alive connection closed under
// a request it had sent (the drain's fault: it must answer Connection:
// close instead). A fresh connection that is still in the kernel's accept
// queue when the listener closes is reset whatever the server does; the
// shutdown grace and readiness keep real clients from making those.
func TestShutdownKeepAlive(t *testing.T) {
	s, err := New(Config{backend: newFake("m")})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String() + "/v1/models/m/classify"
	img := solid(t, "png", red, 8, 8)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer hc.CloseIdleConnections()
	var ok, reusedResets, freshResets, refused atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				var reused bool
				trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "POST", url, bytes.NewReader(img))
				req.Header.Set("Content-Type", "image/png")
				res, err := hc.Do(req)
				switch {
				case err == nil:
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					ok.Add(1)
					continue
				case errors.Is(err, syscall.ECONNREFUSED):
					refused.Add(1)
				case reused:
					reusedResets.Add(1)
					t.Logf("request on a reused connection failed: %v", err)
				default:
					freshResets.Add(1)
				}
				return
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	wg.Wait()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	t.Logf("%d answers; failed: %d on reused keep-alive connections, %d on fresh ones at the listener's close, %d refused after it",
		ok.Load(), reusedResets.Load(), freshResets.Load(), refused.Load())
	if n := reusedResets.Load(); n > 0 {
		t.Errorf("%d requests on keep-alive connections were cut by the drain", n)
	}
}

// TestUploadLimit holds two uploads mid-body: a third is refused at once
// with 429 and Retry-After, and goes through once they finish.
func TestUploadLimit(t *testing.T) {
	_, ts := newTestServer(t, newFake("m"), nil) // MaxUploads defaults to 2
	form := func(name string) (string, []byte) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("name", name)
		p, _ := mw.CreateFormFile("file", "model.pdparams")
		_, _ = p.Write([]byte("checkpoint bytes"))
		mw.Close()
		return mw.FormDataContentType(), buf.Bytes()
	}
	type answer struct {
		status int
		err    error
	}
	var pipes []*io.PipeWriter
	var bodies [][]byte
	var answers []chan answer
	for i := range 2 {
		ct, body := form(fmt.Sprint("slow", i))
		pr, pw := io.Pipe()
		pipes = append(pipes, pw)
		bodies = append(bodies, body)
		ch := make(chan answer, 1)
		answers = append(answers, ch)
		go func() {
			req, _ := http.NewRequest("POST", ts.URL+"/v1/models", pr)
			req.Header.Set("Content-Type", ct)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				ch <- answer{0, err}
				return
			}
			res.Body.Close()
			ch <- answer{res.StatusCode, nil}
		}()
		go func() { _, _ = pw.Write(body[:len(body)/2]) }()
	}
	time.Sleep(200 * time.Millisecond) // both are inside the handler
	ct, body := form("third")
	r := do(t, "POST", ts.URL+"/v1/models", ct, bytes.NewReader(body))
	t.Logf("third upload while two run: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	checkProblem(t, r, http.StatusTooManyRequests, "uploads")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	for i, pw := range pipes {
		_, _ = pw.Write(bodies[i][len(bodies[i])/2:])
		pw.Close()
		if a := <-answers[i]; a.err != nil || a.status != http.StatusCreated {
			t.Errorf("slow upload %d: %d %v", i, a.status, a.err)
		}
	}
	if r := do(t, "POST", ts.URL+"/v1/models", ct, bytes.NewReader(body)); r.status != http.StatusCreated {
		t.Errorf("upload after the others finished: %d %s", r.status, r.body)
	}
}
