package api

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/internal/testimage"
)

// TestClassifyDuringJob measures classify latency idle and while a
// fine-tuning job runs. It takes a minute, so it runs with LCNET_JOB_LOAD=1:
//
//	LCNET_JOB_LOAD=1 go test -run ClassifyDuringJob -v ./api/
func TestClassifyDuringJob(t *testing.T) {
	if os.Getenv("LCNET_JOB_LOAD") == "" {
		t.Skip("set LCNET_JOB_LOAD=1 to measure classify latency under a fine-tuning job")
	}
	_, _, c := jobServer(t, nil)
	ctx := context.Background()
	img, err := testimage.PNG(testimage.TextImage("upright", 5, 1))
	if err != nil {
		t.Fatal(err)
	}
	// measure classifies n times and groups the latencies by the job's
	// stage at the time ("" when there is no job).
	measure := func(n int, job string) map[string][]time.Duration {
		lat := map[string][]time.Duration{}
		for range n {
			stage := ""
			if job != "" {
				st, err := c.Job(ctx, job)
				if err != nil {
					t.Fatal(err)
				}
				if st.State != client.JobRunning {
					break
				}
				stage = st.Stage
			}
			start := time.Now()
			if _, err := c.Classify(ctx, textlineName, "", [][]byte{img}, 1); err != nil {
				t.Fatal(err)
			}
			lat[stage] = append(lat[stage], time.Since(start))
		}
		return lat
	}
	report := func(what string, lat []time.Duration) {
		if len(lat) < 20 {
			t.Logf("%s: only %d requests", what, len(lat))
			return
		}
		slices.Sort(lat)
		t.Logf("%s: %d requests, p50 %v, p99 %v", what, len(lat), lat[len(lat)/2].Round(10*time.Microsecond), lat[len(lat)*99/100].Round(10*time.Microsecond))
	}
	measure(20, "") // load the model
	report("idle", measure(400, "")[""])
	j, err := c.Finetune(ctx, textlineName, "d.zip", bytes.NewReader(textZip(t, 100)), client.FinetuneOptions{Name: "busy", Epochs: 10000, Augment: "flip,crop"})
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, c, j.ID, client.JobRunning)
	busy := measure(800, j.ID)
	report("during feature extraction", busy["extract"])
	report("during training", busy["train"])
	if _, err := c.CancelJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	waitJob(t, c, j.ID, client.JobCanceled)
}
