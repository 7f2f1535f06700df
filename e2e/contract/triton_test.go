package contract

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTritonClient drives the server with Triton's own HTTP client, which
// sends binary tensors by default. It runs only where its source is:
// TRITON_CLIENT_SRC names a checkout of triton-inference-server/client
// (never vendored here), and python3 needs numpy, geventhttpclient and
// rapidjson (Debian: python3-numpy python3-geventhttpclient
// python3-rapidjson). api's TestV2BinaryTensors checks the same wire
// format without it.
func TestTritonClient(t *testing.T) {
	src := os.Getenv("TRITON_CLIENT_SRC")
	lib := filepath.Join(src, "src", "python", "library")
	if _, err := os.Stat(filepath.Join(lib, "tritonclient", "http")); src == "" || err != nil {
		t.Skip("TRITON_CLIENT_SRC does not name a checkout of triton-inference-server/client")
	}
	// The python3 on PATH may be another than Debian's, which has the
	// packages.
	python := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import numpy, geventhttpclient, rapidjson").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		t.Skip("no python3 with numpy, geventhttpclient and rapidjson")
	}
	s := startServer(t)
	cmd := exec.Command(python, "triton_client.py", strings.TrimPrefix(s.URL, "http://"), "textline")
	cmd.Env = append(os.Environ(), "PYTHONPATH="+lib)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("tritonclient.http against lcnet serve: %v", err)
	}
}
