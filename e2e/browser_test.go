package e2e

import (
	"context"
	"encoding/json"
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
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1600),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
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
	err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/docs"),
		chromedp.WaitVisible(`.opblock-summary-path[data-path="/v1/models/{name}/classify"]`, chromedp.ByQuery),
		// Mark the classify operation so the selectors below stay inside it.
		chromedp.Evaluate(`(() => {
			const p = document.querySelector('.opblock-summary-path[data-path="/v1/models/{name}/classify"]');
			const op = p.closest('.opblock');
			op.id = 'e2e-classify';
			op.querySelector('.opblock-summary').click();
			return true;
		})()`, nil),
		chromedp.WaitVisible(block+" .try-out__btn", chromedp.ByQuery),
		chromedp.Click(block+" .try-out__btn", chromedp.ByQuery),
		chromedp.WaitVisible(block+` tr[data-param-name="name"] input`, chromedp.ByQuery),
		chromedp.SendKeys(block+` tr[data-param-name="name"] input`, "PPLCNet_x0_25", chromedp.ByQuery),
		chromedp.SetUploadFiles(block+` input[type="file"]`, []string{img}, chromedp.ByQuery),
		chromedp.Click(block+" .execute", chromedp.ByQuery),
		chromedp.WaitVisible(block+" .live-responses-table .response-col_description pre", chromedp.ByQuery),
		chromedp.Text(block+" .live-responses-table .response-col_description pre", &rendered, chromedp.ByQuery),
	)
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

	var bars []string
	var latency string
	err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible("#file", chromedp.ByQuery),
		chromedp.WaitReady(`#model option[value="PPLCNet_x0_25"]`, chromedp.ByQuery),
		chromedp.SetUploadFiles("#file", []string{img}, chromedp.ByQuery),
		chromedp.WaitVisible("#results .bar", chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#results .bar')).map(b => b.innerText)`, &bars),
		chromedp.Text("#latency", &latency, chromedp.ByQuery),
	)
	screenshot(t, ctx, "demo-page.png")
	if err != nil {
		t.Fatalf("driving the demo page: %v", err)
	}
	if len(bars) != 5 {
		t.Fatalf("demo page shows %d bars, want 5: %q", len(bars), bars)
	}
	if !strings.Contains(bars[0], want.Results[0].Predictions[0].Label) {
		t.Fatalf("first bar %q does not show the top-1 label %q", bars[0], want.Results[0].Predictions[0].Label)
	}
	if !strings.Contains(latency, "ms") {
		t.Fatalf("latency %q does not show milliseconds", latency)
	}
	t.Logf("bars: %q, latency %s", bars, latency)
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
