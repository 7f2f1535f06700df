package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// artifactsDir is where screenshots go; CI keeps the directory.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("LCNET_E2E_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "e2e", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts Debian's Chromium headless with the flags this machine's
// closed network needs, and returns a tab context.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := requireTool(t, "chromium", "chromium-browser", "google-chrome")
	// Not t.TempDir: Chromium's helper processes may still write into the
	// profile for a moment after the browser is cancelled, which would fail
	// the test in TempDir's cleanup. It is removed after the browser stops.
	profile, err := os.MkdirTemp("", "lcnet-e2e-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1600),
		// chromedp waits 20 s for the DevTools address by default; with the
		// whole suite on two cores Chromium's start has taken longer.
		chromedp.WSURLReadTimeout(60 * time.Second),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	// The first Run starts the browser and ties it to ctx; later runs may
	// use shorter-lived child contexts for single steps.
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	return ctx
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 90)); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(artifactsDir(t), name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: %s", p)
}

// TestSwaggerUITryItOut opens /docs, uses "Try it out" on classify with a
// file, and reads the top-1 from the rendered response.
func TestSwaggerUITryItOut(t *testing.T) {
	store := t.TempDir()
	convertFixture(t, store, "PPLCNet_x0_25", "golden", "PPLCNet_x0_25.pdparams")
	srv := startServer(t, store)
	img := writePNG(t, t.TempDir(), "cat.png", 300, 200)
	want := decode[classifyResponse](t, curl(t, "-F", "image=@"+img, srv.URL+"/v1/models/PPLCNet_x0_25/classify?top_k=5").Body)
	ctx := browser(t)

	const block = "#e2e-classify"
	var rendered string
	steps := []struct {
		name string
		act  chromedp.Action
	}{
		{"open /docs", chromedp.Navigate(srv.URL + "/docs")},
		{"wait for the classify operation", chromedp.WaitVisible(`.opblock-summary-path[data-path="/v1/models/{name}/classify"]`, chromedp.ByQuery)},
		// Mark the classify operation so the selectors below stay inside it.
		{"mark it", chromedp.Evaluate(`(() => {
			const p = document.querySelector('.opblock-summary-path[data-path="/v1/models/{name}/classify"]');
			p.closest('.opblock').id = 'e2e-classify';
			return true;
		})()`, nil)},
		{"expand it", chromedp.Click(block+" .opblock-summary-control", chromedp.ByQuery)},
		{"click Try it out", chromedp.Click(block+" .try-out__btn", chromedp.ByQuery)},
		// The request body offers every media type classify reads; a user
		// uploading a file picks multipart/form-data.
		{"choose multipart/form-data", chromedp.Evaluate(`(() => {
			const s = document.querySelector('#e2e-classify .opblock-section-request-body select');
			s.value = 'multipart/form-data';
			s.dispatchEvent(new Event('change', {bubbles: true}));
			return true;
		})()`, nil)},
		// image is an array of files (the field may repeat): add one.
		{"add a file item", chromedp.Click(block+` tr[data-property-name="image"] .json-schema-form-item-add`, chromedp.ByQuery)},
		{"wait for the file input", chromedp.WaitVisible(block+` input[type="file"]`, chromedp.ByQuery)},
		{"choose the file", chromedp.SetUploadFiles(block+` input[type="file"]`, []string{img}, chromedp.ByQuery)},
		// The field comes filled with the document's example name: select
		// it and type over it, as a user would.
		{"select the example model name", chromedp.Evaluate(`(() => {
			const i = document.querySelector('#e2e-classify tr[data-param-name="name"] input');
			i.focus();
			i.select();
			return true;
		})()`, nil)},
		{"type the model name", chromedp.SendKeys(block+` tr[data-param-name="name"] input`, "PPLCNet_x0_25", chromedp.ByQuery)},
		{"click Execute", chromedp.Click(block+" .execute", chromedp.ByQuery)},
		{"wait for the response", chromedp.WaitVisible(block+" .live-responses-table .response-col_description pre", chromedp.ByQuery)},
		{"read the response", chromedp.Text(block+" .live-responses-table .response-col_description pre", &rendered, chromedp.ByQuery)},
	}
	var err error
	for _, st := range steps {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err = chromedp.Run(sctx, st.act)
		cancel()
		if err != nil {
			err = fmt.Errorf("%s: %w", st.name, err)
			break
		}
	}
	screenshot(t, ctx, "swagger-ui-classify.png")
	if err != nil {
		t.Fatalf("driving Swagger UI: %v", err)
	}
	var got classifyResponse
	if err := json.Unmarshal([]byte(rendered), &got); err != nil {
		t.Fatalf("Swagger UI rendered a response that is not the classify JSON: %v\n%s", err, truncate([]byte(rendered)))
	}
	if len(got.Results) != 1 || len(got.Results[0].Predictions) == 0 {
		t.Fatalf("rendered response has no predictions: %s", truncate([]byte(rendered)))
	}
	top, wantTop := got.Results[0].Predictions[0], want.Results[0].Predictions[0]
	if top.ClassID != wantTop.ClassID || top.Label != wantTop.Label {
		t.Fatalf("Swagger UI top-1 %+v, curl top-1 %+v", top, wantTop)
	}
	t.Logf("Swagger UI top-1: %s (%.4f)", top.Label, top.Score)
}

// TestDemoPage opens /, uploads an image, and reads the bars.
func TestDemoPage(t *testing.T) {
	store := t.TempDir()
	convertFixture(t, store, "PPLCNet_x0_25", "golden", "PPLCNet_x0_25.pdparams")
	srv := startServer(t, store)
	img := writePNG(t, t.TempDir(), "cat.png", 300, 200)
	want := decode[classifyResponse](t, curl(t, "-F", "image=@"+img, srv.URL+"/v1/models/PPLCNet_x0_25/classify?top_k=5").Body)
	ctx := browser(t)

	// Each row is label, a bar whose width is the score, and the score.
	var rows []struct {
		Text  string  `json:"text"`
		Score float64 `json:"score"`
		Width string  `json:"width"`
	}
	var latency string
	err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible("#file", chromedp.ByQuery),
		chromedp.WaitReady(`#model option[value="PPLCNet_x0_25"]`, chromedp.ByQuery),
		chromedp.SetUploadFiles("#file", []string{img}, chromedp.ByQuery),
		chromedp.WaitVisible("#results .bar", chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#results .row')).map(r => {
			const bar = r.querySelector('.bar');
			return {text: r.innerText, score: parseFloat(bar.dataset.score), width: bar.style.width};
		})`, &rows),
		chromedp.Text("#latency", &latency, chromedp.ByQuery),
	)
	screenshot(t, ctx, "demo-page.png")
	if err != nil {
		t.Fatalf("driving the demo page: %v", err)
	}
	if len(rows) != 5 {
		t.Fatalf("demo page shows %d bars, want 5: %+v", len(rows), rows)
	}
	for i, r := range rows {
		p := want.Results[0].Predictions[i]
		if !strings.Contains(r.Text, p.Label) || math.Abs(r.Score-p.Score) > 1e-6 || r.Width == "" {
			t.Fatalf("bar %d shows %+v, the API answered %+v", i, r, p)
		}
	}
	if !strings.Contains(latency, "ms") {
		t.Fatalf("latency %q does not show milliseconds", latency)
	}
	t.Logf("bars: %+v, latency %s", rows, latency)
}

// TestDemoPageEmptyZoo checks that a new user without models sees how to
// add one instead of an empty page.
func TestDemoPageEmptyZoo(t *testing.T) {
	srv := startServer(t, t.TempDir())
	ctx := browser(t)
	var hint string
	err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible("#hint", chromedp.ByQuery),
		chromedp.Text("#hint", &hint, chromedp.ByQuery),
	)
	screenshot(t, ctx, "demo-page-empty.png")
	if err != nil {
		t.Fatalf("driving the demo page: %v", err)
	}
	for _, w := range []string{"lcnet convert", "lcnet pull", "/v1/models"} {
		if !strings.Contains(hint, w) {
			t.Fatalf("empty-zoo hint %q does not mention %q", hint, w)
		}
	}
}
