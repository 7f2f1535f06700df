// Package contract checks lcnet's OpenAPI document against the running
// server: Redocly lints the document, Dredd sends the requests it
// describes to a live lcnet serve and checks every answer against it, and
// Prism, as a validating proxy, checks a few requests and answers.
//
// The tools are npm packages pinned in package-lock.json (make deps runs
// npm ci here). Without node or them the tests skip, except in CI.
package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/internal/testbin"
)

var lcnetBin string

func TestMain(m *testing.M) { testbin.Main(m, &lcnetBin) }

const (
	document = "../../openapi/openapi.yaml"
	apiKey   = "contract-key"
)

// requireTool returns the path of an npm-installed tool, or skips (fails
// in CI) when node or the tool is missing.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	missing := ""
	p, _ := filepath.Abs(filepath.Join("node_modules", ".bin", name))
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not on PATH"
	} else if _, err := os.Stat(p); err != nil {
		missing = name + " is not installed (cd e2e/contract && npm ci --ignore-scripts)"
	}
	if missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s, and CI must run the contract tests (make deps)", missing)
		}
		t.Skip(missing)
	}
	return p
}

type server struct {
	URL string
	cmd *exec.Cmd
}

// startServer converts the x0.25 fixture as textline:1 into a temp store
// and serves it with an API key on a free loopback port, until the test
// ends.
func startServer(t *testing.T) *server {
	t.Helper()
	store := t.TempDir()
	ckpt := fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams")
	if out, err := exec.Command(lcnetBin, "convert", ckpt, "--name", "textline", "--store", store).CombinedOutput(); err != nil {
		t.Fatalf("lcnet convert: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logs := &testbin.Output{}
	cmd := exec.Command(lcnetBin, "serve", "--addr", addr, "--store", store, "--api-key", apiKey)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait() // killed: the exit status says nothing
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	s := &server{URL: "http://" + addr, cmd: cmd}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(s.URL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("lcnet serve did not become ready in 30s\n%s", logs.String())
		}
	}
	return s
}

// writeImages writes one real image per content type the document lists
// and returns the map for the hooks: PNG and GIF made here, the others
// from imaging's test data.
func writeImages(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	img := image.NewPaletted(image.Rect(0, 0, 96, 64), []color.Color{color.Black, color.White, color.RGBA{200, 30, 30, 255}})
	for y := range 64 {
		for x := range 96 {
			img.SetColorIndex(x, y, uint8((x/8+y/8)%3))
		}
	}
	var pb, gb bytes.Buffer
	if err := png.Encode(&pb, img); err != nil {
		t.Fatal(err)
	}
	if err := gif.Encode(&gb, img, nil); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{"image/png": filepath.Join(dir, "a.png"), "image/gif": filepath.Join(dir, "a.gif")}
	for p, b := range map[string][]byte{m["image/png"]: pb.Bytes(), m["image/gif"]: gb.Bytes()} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testdata := filepath.Join("..", "..", "imaging", "testdata", "cv2")
	for ct, f := range map[string]string{"image/jpeg": "photo401.jpg", "image/bmp": "photo67.bmp", "image/webp": "photo67_lossy.webp", "image/tiff": "photo67.tif"} {
		p, err := filepath.Abs(filepath.Join(testdata, f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
		m[ct] = p
	}
	m["application/octet-stream"] = m["image/jpeg"]
	return m
}

// warm loads the model so readiness transactions find it ready.
func warm(t *testing.T, s *server, pngPath string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("image", "a.png")
	data, err := os.ReadFile(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(data); err != nil {
		t.Fatal(err)
	}
	mw.Close()
	resp, err := http.Post(s.URL+"/v1/models/textline/classify", mw.FormDataContentType(), &b)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("warm-up classify: %d %s", resp.StatusCode, body)
	}
}

func TestRedoclyLint(t *testing.T) {
	redocly := requireTool(t, "redocly")
	out, err := exec.Command(redocly, "lint", "--format", "summary", document).CombinedOutput()
	t.Logf("redocly lint:\n%s", out)
	if err != nil {
		t.Fatalf("redocly lint found errors: %v", err)
	}
}

var dreddSummary = regexp.MustCompile(`complete: (\d+) passing, (\d+) failing, (\d+) errors, (\d+) skipped, (\d+) total`)

func TestDredd(t *testing.T) {
	dredd := requireTool(t, "dredd")
	s := startServer(t)
	images := writeImages(t)
	warm(t, s, images["image/png"])
	imagesJSON, err := json.Marshal(images)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dredd, document, s.URL, "--hookfiles=hooks.js", "--loglevel=warning", "--color=false")
	cmd.Env = append(os.Environ(),
		"LCNET_CONTRACT_IMAGES="+string(imagesJSON),
		"LCNET_CONTRACT_KEY="+apiKey,
		"LCNET_CONTRACT_CHECKPOINT="+fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams"),
		"LCNET_CONTRACT_SIDE=224",
		"LCNET_CONTRACT_DATASET="+writeDataset(t),
	)
	out, err := cmd.CombinedOutput()
	m := dreddSummary.FindSubmatch(out)
	if err != nil || m == nil || string(m[2]) != "0" || string(m[3]) != "0" {
		t.Fatalf("dredd: %v\n%s", err, failures(out))
	}
	t.Logf("dredd: %s passing, %s failing, %s errors, %s skipped, %s total", m[1], m[2], m[3], m[4], m[5])
	if string(m[1]) == "0" {
		t.Fatal("dredd passed no transaction")
	}
}

// failures keeps Dredd's fail lines and the summary, each cut short:
// its full output repeats every request body.
func failures(out []byte) string {
	var b strings.Builder
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "fail:") || strings.HasPrefix(line, "error:") || strings.HasPrefix(line, "complete:") {
			if len(line) > 600 {
				line = line[:600] + fmt.Sprintf("... (%d bytes)", len(line))
			}
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
