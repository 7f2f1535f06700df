package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lcnet/lcnet/storage"
)

// lcnet runs one command line in-process with an empty environment
// (plus env, as KEY=VALUE pairs).
func lcnet(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	getenv := func(k string) string {
		for _, kv := range env {
			if key, v, _ := strings.Cut(kv, "="); key == k {
				return v
			}
		}
		return ""
	}
	var o, e bytes.Buffer
	code = runEnv(context.Background(), args, &o, &e, getenv)
	return o.String(), e.String(), code
}

func mustLcnet(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := lcnet(t, nil, args...)
	if code != 0 {
		t.Fatalf("lcnet %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// wantFailure checks the failure contract: the exit code, and exactly one
// line on stderr (plus the usage hint for exit 2) naming the command.
func wantFailure(t *testing.T, code int, stderr string, wantCode int, prefix string, contains ...string) {
	t.Helper()
	if code != wantCode {
		t.Fatalf("exit %d, want %d; stderr: %s", code, wantCode, stderr)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	wantLines := 1
	if wantCode == exitUsage {
		wantLines = 2
	}
	if len(lines) != wantLines {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), wantLines, stderr)
	}
	if !strings.HasPrefix(lines[0], prefix) {
		t.Fatalf("stderr %q does not start with %q", lines[0], prefix)
	}
	for _, c := range contains {
		if !strings.Contains(lines[0], c) {
			t.Fatalf("stderr %q does not mention %q", lines[0], c)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		prefix string
		says   string
	}{
		{nil, "lcnet: ", "no command"},
		{[]string{"frobnicate"}, "lcnet: ", "unknown command"},
		{[]string{"convert"}, "lcnet convert: ", "SOURCE"},
		{[]string{"convert", "a.pdparams"}, "lcnet convert: ", "--name"},
		{[]string{"convert", "a", "b", "--name", "m"}, "lcnet convert: ", "one SOURCE"},
		{[]string{"convert", "a.pdparams", "--name", "m", "--dtype", "int8"}, "lcnet convert: ", "int8"},
		{[]string{"convert", "--nmae", "m", "a.pdparams"}, "lcnet convert: ", "unknown flag"}, //nolint:misspell // the typo is the case
		{[]string{"zoo"}, "lcnet zoo: ", "subcommand"},
		{[]string{"zoo", "show"}, "lcnet zoo show: ", "NAME"},
		{[]string{"zoo", "rm", "m"}, "lcnet zoo rm: ", "NAME:VERSION"},
		{[]string{"pull"}, "lcnet pull: ", "NAME"},
		{[]string{"pull", "ResNet50"}, "lcnet pull: ", "PPLCNet_x1_0"},
		{[]string{"classify", "--model", "m"}, "lcnet classify: ", "IMAGE"},
		{[]string{"classify", "a.png"}, "lcnet classify: ", "--model"},
		{[]string{"classify", "a.png", "--model", "m", "--top-k", "0"}, "lcnet classify: ", "--top-k"},
		{[]string{"infer", "--model", "m", "--out", "o"}, "lcnet infer: ", "--input"},
		{[]string{"export", "--model", "m", "--out", "x.onnx", "--format", "tflite"}, "lcnet export: ", "tflite"},
		{[]string{"bench"}, "lcnet bench: ", "--model"},
		{[]string{"bench", "--model", "m", "--size", "big"}, "lcnet bench: ", "HxW"},
		{[]string{"bench", "--model", "m", "--batch", "x"}, "lcnet bench: ", "invalid argument"},
		{[]string{"serve", "extra"}, "lcnet serve: ", "no arguments"},
		{[]string{"serve", "--log-format", "xml"}, "lcnet serve: ", "xml"},
		{[]string{"version", "--store"}, "lcnet version: ", "unknown flag"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, code := lcnet(t, nil, tc.args...)
			// A bare group command shows its help first, then the error.
			if len(tc.args) <= 1 && strings.Contains(stderr, "Usage:") {
				lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
				stderr = strings.Join(lines[len(lines)-2:], "\n")
			}
			wantFailure(t, code, stderr, exitUsage, tc.prefix, tc.says)
		})
	}
}

// TestHelp: every command has help with examples, since the README's CLI
// reference is made from it.
func TestHelp(t *testing.T) {
	cmds := [][]string{{}, {"serve"}, {"convert"}, {"pull"}, {"zoo"}, {"zoo", "list"}, {"zoo", "show"}, {"zoo", "rm"},
		{"classify"}, {"infer"}, {"export"}, {"bench"}, {"version"}}
	for _, c := range cmds {
		args := append(append([]string{}, c...), "--help")
		out, errOut, code := lcnet(t, nil, args...)
		if code != 0 {
			t.Errorf("lcnet %s: exit %d: %s", strings.Join(args, " "), code, errOut)
			continue
		}
		if !strings.Contains(out, "Examples:") || !strings.Contains(out, "lcnet") {
			t.Errorf("lcnet %s has no examples:\n%s", strings.Join(args, " "), out)
		}
	}
	// "help CMD" is the same as "CMD --help".
	a, _, _ := lcnet(t, nil, "help", "convert")
	b, _, _ := lcnet(t, nil, "convert", "--help")
	if a != b {
		t.Errorf("'help convert' and 'convert --help' differ")
	}
}

func TestVersion(t *testing.T) {
	out := mustLcnet(t, "version")
	if !strings.HasPrefix(out, "lcnet ") || !strings.Contains(out, "go1.") {
		t.Fatalf("version printed %q", out)
	}
	if flag := mustLcnet(t, "--version"); flag != out {
		t.Fatalf("--version printed %q, version %q", flag, out)
	}
}

func TestPullList(t *testing.T) {
	out := mustLcnet(t, "pull", "--list")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && f[0] == "PULC_person_attribute" && strings.Join(f[1:4], " ") != "26 256x192 multi-label" {
			t.Errorf("pull --list: %q, want 26 classes, 256x192, multi-label", line)
		}
	}
	for _, name := range []string{"PPLCNet_x0_25", "PPLCNet_x2_5_ssld", "PP-LCNet_x1_0_doc_ori", "PULC_person_attribute", "PULC_traffic_sign"} {
		if !strings.Contains(out, name) {
			t.Errorf("pull --list does not list %s:\n%s", name, out)
		}
	}
	var entries []map[string]any
	if err := json.Unmarshal([]byte(mustLcnet(t, "pull", "--list", "--json")), &entries); err != nil || len(entries) < 15 {
		t.Fatalf("pull --list --json: %d entries, %v", len(entries), err)
	}
}

func TestReadLabels(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"plain", "cat\ndog\n\n", []string{"cat", "dog"}},
		{"paddleclas", "0 tench, Tinca tinca\n1 goldfish\n", []string{"tench, Tinca tinca", "goldfish"}},
		{"paddleclas with blank lines", "0 0_degree\n\n1 180_degree\n", []string{"0_degree", "180_degree"}},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readLabels(p)
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: readLabels = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readLabels(empty); err == nil {
		t.Error("an empty labels file was accepted")
	}
	// A blank line would shift every class after it; numbers that do not
	// cover 0..K-1 cannot be told from names that start with a number.
	for name, text := range map[string]string{"blank inside": "cat\n\ndog\n", "numbers from 3": "3 degrees\n7 degrees\n"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := readLabels(p); err == nil {
			t.Errorf("%s: accepted as %q", name, got)
		}
	}
}

func TestLatencyStats(t *testing.T) {
	var lat []int
	for i := 1; i <= 100; i++ {
		lat = append(lat, i)
	}
	var d []time.Duration
	for _, v := range lat {
		d = append(d, time.Duration(v)*1e6)
	}
	p50, p90, p99, mean := latencyStats(d)
	if p50 != 50 || p90 != 90 || p99 != 99 || mean != 50.5 {
		t.Fatalf("latencyStats(1..100 ms) = %v %v %v %v, want 50 90 99 50.5", p50, p90, p99, mean)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string][2]int{"224x224": {224, 224}, "80X160": {80, 160}, "256": {256, 256}} {
		h, w, err := parseSize(in)
		if err != nil || h != want[0] || w != want[1] {
			t.Errorf("parseSize(%q) = %d, %d, %v", in, h, w, err)
		}
	}
	for _, bad := range []string{"", "x", "0x5", "-1x3", "axb"} {
		if _, _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

func TestDownloadDir(t *testing.T) {
	for spec, want := range map[string]string{
		"":                  filepath.Join(storage.DefaultDir, "downloads"),
		"/var/lib/lcnet":    "/var/lib/lcnet/downloads",
		"file:///srv/store": "/srv/store/downloads",
	} {
		if got := downloadDir(spec); got != want {
			t.Errorf("downloadDir(%q) = %q, want %q", spec, got, want)
		}
	}
	if got := downloadDir("s3://bucket/prefix"); strings.Contains(got, "bucket") {
		t.Errorf("downloadDir of a remote store = %q, want a local cache directory", got)
	}
}

// TestServeEnv: serve's flags default from the environment.
func TestServeEnv(t *testing.T) {
	a := &app{getenv: func(k string) string {
		return map[string]string{"LCNET_ADDR": "0.0.0.0:9", "LCNET_PULL": "1", "LCNET_THREADS": "3", "LCNET_API_KEY": "k", "LCNET_STORE": "/s", "LCNET_REFRESH_INTERVAL": "250ms"}[k]
	}, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	f := a.serveCmd().Flags()
	for flag, want := range map[string]string{"addr": "0.0.0.0:9", "pull": "true", "threads": "3", "api-key": "k", "store": "/s", "refresh-interval": "250ms"} {
		if got := f.Lookup(flag).DefValue; got != want {
			t.Errorf("--%s defaults to %q, want %q from the environment", flag, got, want)
		}
	}
}
