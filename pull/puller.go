package pull

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/lcnet/lcnet/convert"
	"github.com/lcnet/lcnet/zoo"
)

// Options configure a Puller.
type Options struct {
	// Mirror, when set, replaces the official download sites: files are
	// fetched as Mirror + "/" + Entry.File().
	Mirror string
	// CacheDir holds partial downloads between attempts.
	CacheDir string
	Client   *http.Client
	// Attempts per download (each resumes where the last stopped); 0 means 3.
	Attempts int
	// Backoff before the first retry; 0 means one second.
	Backoff time.Duration
	// DType is how pulled models are stored unless a Request says otherwise.
	DType zoo.DType
}

// Request asks for one catalog model.
type Request struct {
	// Name is a catalog name (see Lookup for the spellings accepted).
	Name string
	// Version is the zoo version to create; "" takes the next number. If
	// the zoo already has it (or, with "", any version), nothing is pulled.
	Version string
	DType   zoo.DType
}

// ImportFunc turns a downloaded file into a zoo version.
type ImportFunc func(ctx context.Context, path string, e Entry, req Request) (zoo.Manifest, error)

// Puller downloads catalog models into a zoo. It is safe for concurrent
// use: concurrent requests for the same model share one download, and a
// failed download or conversion leaves no version behind.
type Puller struct {
	zoo     *zoo.Zoo
	fetcher Fetcher
	mirror  string
	dtype   zoo.DType
	// importFn is the conversion step; tests replace it to count calls.
	importFn ImportFunc

	mu    sync.Mutex
	calls map[string]*call
}

// New returns a Puller that imports into z.
func New(z *zoo.Zoo, opts Options) *Puller {
	p := &Puller{
		zoo: z,
		fetcher: Fetcher{
			Client:   opts.Client,
			Dir:      opts.CacheDir,
			Attempts: opts.Attempts,
			Backoff:  opts.Backoff,
		},
		mirror: opts.Mirror,
		dtype:  opts.DType,
		calls:  map[string]*call{},
	}
	p.importFn = p.convertAndImport
	return p
}

// call is one download-and-import shared by every request for the same key.
type call struct {
	done   chan struct{}
	m      zoo.Manifest
	err    error
	cancel context.CancelFunc
	// waiters is guarded by Puller.mu; when the last one gives up, the
	// download is cancelled (its part file stays for the next attempt).
	waiters int

	pmu        sync.Mutex
	subs       map[int]func(done, total int64)
	nextSub    int
	doneBytes  int64
	total      int64
	progressed bool
}

func (c *call) progress(done, total int64) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	c.doneBytes, c.total, c.progressed = done, total, true
	for _, fn := range c.subs {
		fn(done, total)
	}
}

func (c *call) subscribe(fn func(done, total int64)) int {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	c.nextSub++
	if fn != nil {
		c.subs[c.nextSub] = fn
	}
	return c.nextSub
}

func (c *call) unsubscribe(id int) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	delete(c.subs, id)
}

// Progress reports how far an in-flight pull of the catalog model name
// has downloaded (total is -1 while unknown); ok is false when no pull of
// it is under way. The server shows it on GET /v1/models/{name}.
func (p *Puller) Progress(name string) (done, total int64, ok bool) {
	e, err := Lookup(name)
	if err != nil {
		return 0, 0, false
	}
	p.mu.Lock()
	var active *call
	for key, c := range p.calls {
		if strings.HasPrefix(key, e.Name+":") {
			active = c
			break
		}
	}
	p.mu.Unlock()
	if active == nil {
		return 0, 0, false
	}
	active.pmu.Lock()
	defer active.pmu.Unlock()
	if !active.progressed {
		return 0, -1, true
	}
	return active.doneBytes, active.total, true
}

// Pull makes sure the catalog model name is in the zoo, downloading and
// importing it if not, and returns its manifest. progress (optional) sees
// the download's bytes; callers that join a download already under way
// see it from where it is.
func (p *Puller) Pull(ctx context.Context, name string, progress func(done, total int64)) (zoo.Manifest, error) {
	return p.PullRequest(ctx, Request{Name: name}, progress)
}

// PullRequest is Pull with a version and dtype.
func (p *Puller) PullRequest(ctx context.Context, req Request, progress func(done, total int64)) (zoo.Manifest, error) {
	e, err := Lookup(req.Name)
	if err != nil {
		return zoo.Manifest{}, err
	}
	if req.DType == "" {
		req.DType = p.dtype
	}
	key := e.Name + ":" + req.Version + "/" + string(req.DType)

	p.mu.Lock()
	c, ok := p.calls[key]
	if !ok {
		// The download belongs to every waiter, not to the first caller's
		// request: it runs until done or until all waiters have left.
		runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call{done: make(chan struct{}), cancel: cancel, subs: map[int]func(int64, int64){}}
		p.calls[key] = c
		go p.run(runCtx, key, c, e, req)
	}
	c.waiters++
	id := c.subscribe(progress)
	p.mu.Unlock()
	defer c.unsubscribe(id)

	select {
	case <-c.done:
		return c.m, c.err
	case <-ctx.Done():
		p.mu.Lock()
		c.waiters--
		if c.waiters == 0 {
			c.cancel()
			if p.calls[key] == c {
				delete(p.calls, key)
			}
		}
		p.mu.Unlock()
		return zoo.Manifest{}, fmt.Errorf("pull %s: %w", e.Name, ctx.Err())
	}
}

func (p *Puller) run(ctx context.Context, key string, c *call, e Entry, req Request) {
	defer func() {
		c.cancel()
		p.mu.Lock()
		if p.calls[key] == c {
			delete(p.calls, key)
		}
		p.mu.Unlock()
		close(c.done)
	}()
	c.m, c.err = p.pull(ctx, e, req, c.progress)
}

func (p *Puller) pull(ctx context.Context, e Entry, req Request, progress func(done, total int64)) (zoo.Manifest, error) {
	m, err := p.zoo.Resolve(ctx, e.Name, req.Version)
	switch {
	case err == nil:
		return m, nil
	case !errors.Is(err, zoo.ErrNotFound):
		return zoo.Manifest{}, fmt.Errorf("pull %s: %w", e.Name, err)
	}
	path, err := p.fetcher.Fetch(ctx, e.URLFrom(p.mirror), e.File(), Want{Size: e.Size, SHA256: e.SHA256}, progress)
	if err != nil {
		return zoo.Manifest{}, fmt.Errorf("pull %s: %w", e.Name, err)
	}
	// The zoo keeps its own copy; a finished download is not worth the disk.
	defer os.Remove(path)
	m, err = p.importFn(ctx, path, e, req)
	if err != nil {
		return zoo.Manifest{}, fmt.Errorf("pull %s: %w", e.Name, err)
	}
	return m, nil
}

// convertAndImport is the ImportFunc used outside tests.
func (p *Puller) convertAndImport(ctx context.Context, path string, e Entry, req Request) (zoo.Manifest, error) {
	ck, err := convert.Read(ctx, path, convert.ReadOptions{})
	if err != nil {
		return zoo.Manifest{}, err
	}
	opts := convert.ImportOptions{Name: e.Name, Version: req.Version, DType: req.DType}
	e.complete(ck, &opts)
	return convert.Import(ctx, p.zoo, ck, opts)
}

// complete fills in what the download lacks and the catalog knows: the
// labels, the pipeline of a tar without inference.yml (and so the input
// size), and the multi-label head. What the download states wins.
func (e Entry) complete(ck *convert.Checkpoint, opts *convert.ImportOptions) {
	if len(ck.Labels) == 0 {
		switch {
		case len(e.Labels) > 0:
			opts.Labels = e.Labels
		case e.ImageNet:
			opts.Labels = zoo.ImageNetLabels()
		}
	}
	if ck.Preprocess == nil && e.Preprocess != nil {
		pre := *e.Preprocess
		ck.Preprocess = &pre
		if ck.Arch != nil {
			ck.Arch.InputHeight, ck.Arch.InputWidth = pre.OutputSize()
		}
	}
	if e.MultiLabel && ck.Arch != nil {
		ck.Arch.MultiLabel = true
	}
}
