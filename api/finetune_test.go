package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/internal/testimage"
	"github.com/lcnet/lcnet/zoo"
)

// zipFolder packs a directory tree into a zip, one folder down.
func zipFolder(t testing.TB, dir string) []byte {
	t.Helper()
	b, err := testimage.Zip(dir, "set/")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func textZip(t testing.TB, perClass int) []byte {
	t.Helper()
	dir, err := testimage.TextFolder(t.TempDir(), perClass, 0, 11)
	if err != nil {
		t.Fatal(err)
	}
	return zipFolder(t, dir)
}

// jobServer serves the real text-line model with an API key, and returns
// the server itself for tests that reach into its job queue.
func jobServer(t testing.TB, mod func(*Config)) (*httptest.Server, *Server, *client.Client) {
	t.Helper()
	z, _ := realZoo(t, map[string]string{textlineName: textlinePath(t)})
	cfg := Config{Zoo: z, APIKey: "k", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TempDir: t.TempDir()}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	c, err := client.New(ts.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.APIKey = "k"
	return ts, s, c
}

func waitJob(t testing.TB, c *client.Client, id string, states ...string) client.Job {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		j, err := c.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if j.State == s {
				return j
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s", id, j.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFinetuneJob uploads a zip, follows the job to its end and uses the
// new model.
func TestFinetuneJob(t *testing.T) {
	ts, _, c := jobServer(t, nil)
	ctx := context.Background()
	j, err := c.Finetune(ctx, textlineName, "lines.zip", bytes.NewReader(textZip(t, 8)), client.FinetuneOptions{
		Name: "lines", Epochs: 20, LR: 0.01, Layer: "pooled", Augment: "crop", Seed: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if j.State != client.JobQueued && j.State != client.JobRunning || j.Images != 32 || j.Base != textlineName+":1" {
		t.Fatalf("accepted job %+v", j)
	}
	done := waitJob(t, c, j.ID, client.JobSucceeded, client.JobFailed, client.JobCanceled)
	if done.State != client.JobSucceeded || done.Model != "lines:1" || done.Epoch != 20 || done.Stage != "train" || done.StartedAt == nil || done.FinishedAt == nil {
		t.Fatalf("finished job %+v", done)
	}
	m, err := c.Model(ctx, "lines", "")
	if err != nil {
		t.Fatal(err)
	}
	l := m.Versions[0].Lineage
	if l == nil || l.BaseName != textlineName || l.Layer != "pooled" || l.Epochs != 20 || l.TrainImages+l.ValImages != 32 || l.ValSplit != 0.2 {
		t.Fatalf("lineage %+v", l)
	}
	img, err := testimage.PNG(testimage.TextImage("rotated", 99, 3))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Classify(ctx, "lines", "", [][]byte{img}, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("classified a rotated line as %+v", res.Results[0].Predictions[0])

	// The three routes' refusals.
	r := do(t, "POST", ts.URL+"/v1/models/"+textlineName+"/finetune", "multipart/form-data; boundary=x", nil)
	if r.status != http.StatusUnauthorized {
		t.Errorf("no key: %d", r.status)
	}
	for _, tc := range []struct {
		name   string
		base   string
		data   []byte
		opt    client.FinetuneOptions
		status int
	}{
		{"unknown base", "nosuch", textZip(t, 1), client.FinetuneOptions{Name: "x"}, http.StatusNotFound},
		{"no name", textlineName, textZip(t, 1), client.FinetuneOptions{}, http.StatusBadRequest},
		{"bad layer", textlineName, textZip(t, 1), client.FinetuneOptions{Name: "x", Layer: "logits"}, http.StatusBadRequest},
		{"not an archive", textlineName, bytes.Repeat([]byte("junk"), 300), client.FinetuneOptions{Name: "x"}, http.StatusUnprocessableEntity},
	} {
		_, err := c.Finetune(ctx, tc.base, "d.zip", bytes.NewReader(tc.data), tc.opt)
		var pe *client.ProblemError
		if !errors.As(err, &pe) || pe.Status != tc.status {
			t.Errorf("%s: %v, want %d", tc.name, err, tc.status)
		}
	}
	if _, err := c.Job(ctx, "nosuch"); err == nil {
		t.Error("GET of an unknown job succeeded")
	}
	if _, err := c.CancelJob(ctx, j.ID); err == nil || err.(*client.ProblemError).Status != http.StatusConflict {
		t.Errorf("cancelling a finished job: %v, want 409", err)
	}
}

// TestFinetuneCancel cancels a running job over HTTP: no version appears.
func TestFinetuneCancel(t *testing.T) {
	_, s, c := jobServer(t, nil)
	ctx := context.Background()
	j, err := c.Finetune(ctx, textlineName, "lines.zip", bytes.NewReader(textZip(t, 10)), client.FinetuneOptions{Name: "gone", Epochs: 5000})
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, c, j.ID, client.JobRunning)
	if _, err := c.CancelJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if got := waitJob(t, c, j.ID, client.JobCanceled, client.JobFailed, client.JobSucceeded); got.State != client.JobCanceled {
		t.Fatalf("job %+v", got)
	}
	if _, err := s.cfg.Zoo.Resolve(ctx, "gone", ""); !errors.Is(err, zoo.ErrNotFound) {
		t.Errorf("a cancelled job left a version: %v", err)
	}
	entries, _ := os.ReadDir(s.cfg.TempDir)
	if len(entries) != 0 {
		t.Errorf("the job's directory was left behind: %v", entries)
	}
}

// TestJobQueue: one job runs at a time, size wait, the next is 429 with
// Retry-After; a queued job cancelled never runs.
func TestJobQueue(t *testing.T) {
	ts, s, _ := jobServer(t, func(c *Config) { c.JobQueue = 1 })
	release := make(chan struct{})
	started := make(chan string, 4)
	block := func(ctx context.Context, j *bgJob) error {
		started <- j.snapshot().ID
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	first, err := s.jobs.add(client.Job{}, "", block)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	second, err := s.jobs.add(client.Job{}, "", block)
	if err != nil {
		t.Fatal(err)
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("dataset", "d.zip")
	if err == nil {
		_, err = fw.Write(textZip(t, 1))
	}
	if err == nil {
		err = mw.WriteField("name", "x")
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	r := do(t, "POST", ts.URL+"/v1/models/"+textlineName+"/finetune", mw.FormDataContentType(), &body, "Authorization", "Bearer k")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("a full queue answered %d (Retry-After %q): %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	if entries, _ := os.ReadDir(s.cfg.TempDir); len(entries) != 0 {
		t.Errorf("a refused upload left %v", entries)
	}

	r = do(t, "DELETE", ts.URL+"/v1/jobs/"+second.snapshot().ID, "", nil, "Authorization", "Bearer k")
	if r.status != http.StatusAccepted || decode[client.Job](t, r).State != client.JobCanceled {
		t.Fatalf("cancelling the queued job: %d %s", r.status, r.body)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for first.snapshot().State != client.JobSucceeded || second.snapshot().FinishedAt == nil {
		if time.Now().After(deadline) {
			t.Fatalf("first %+v, second %+v", first.snapshot(), second.snapshot())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(started) != 0 {
		t.Error("the cancelled queued job ran")
	}
	if st := second.snapshot().State; st != client.JobCanceled {
		t.Errorf("second job %s", st)
	}
}
