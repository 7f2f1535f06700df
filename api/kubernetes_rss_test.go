package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lcnet/lcnet/internal/testbin"
	"github.com/lcnet/lcnet/internal/testimage"
)

// podSpec is the part of deploy/kubernetes/deployment.yaml that decides
// how the container runs: its arguments, environment and memory limit.
type podSpec struct {
	Spec struct {
		Template struct {
			Spec struct {
				Containers []struct {
					Args []string `yaml:"args"`
					Env  []struct {
						Name      string `yaml:"name"`
						Value     string `yaml:"value"`
						ValueFrom *struct {
							ResourceFieldRef *struct {
								Resource string `yaml:"resource"`
							} `yaml:"resourceFieldRef"`
						} `yaml:"valueFrom"`
					} `yaml:"env"`
					Resources struct {
						Limits map[string]string `yaml:"limits"`
					} `yaml:"resources"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// quantity reads a Kubernetes memory quantity in the binary units the
// manifest uses (Ki, Mi, Gi).
func quantity(t *testing.T, q string) int64 {
	t.Helper()
	for suffix, shift := range map[string]int{"Ki": 10, "Mi": 20, "Gi": 30} {
		if n, ok := strings.CutSuffix(q, suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				t.Fatalf("quantity %q: %v", q, err)
			}
			return v << shift
		}
	}
	t.Fatalf("quantity %q: not in Ki, Mi or Gi", q)
	return 0
}

// vmHWM is the peak resident set of process pid, from /proc.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// TestKubernetesPodUnderBombs runs the real 'lcnet serve' as the
// Deployment does (its arguments, its environment with GOMEMLIMIT, its
// CPU limit as LCNET_THREADS), over a local zoo instead of S3, and sends
// 16 decompression bombs at once: 4 of 64 Mpx refused from their header,
// 12 just under the per-image limit that must take turns in the decode
// budget. The process's peak RSS must stay under the pod's memory limit,
// and a healthy request made during the attack must be answered.
// It builds the binary and takes a few seconds of both cores; -short (the
// race run) skips it.
func TestKubernetesPodUnderBombs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and attacks the real binary; skipped in -short")
	}
	b, err := os.ReadFile(filepath.Join("..", "deploy", "kubernetes", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pod podSpec
	if err := yaml.Unmarshal(b, &pod); err != nil {
		t.Fatal(err)
	}
	if len(pod.Spec.Template.Spec.Containers) != 1 {
		t.Fatal("deployment.yaml: want one container")
	}
	c := pod.Spec.Template.Spec.Containers[0]
	limit := quantity(t, c.Resources.Limits["memory"])

	_, store := realZoo(t, map[string]string{"m": textlinePath(t)})
	tmp := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp}
	for _, e := range c.Env {
		v := e.Value
		switch {
		case e.Name == "LCNET_STORE":
			v = store
		case e.Name == "TMPDIR" || e.Name == "XDG_CACHE_HOME":
			v = tmp
		case e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil:
			v = c.Resources.Limits[strings.TrimPrefix(e.ValueFrom.ResourceFieldRef.Resource, "limits.")]
		case e.ValueFrom != nil:
			continue // credentials from the Secret: the local zoo needs none
		}
		env = append(env, e.Name+"="+v)
	}
	if !strings.Contains(strings.Join(env, " "), "GOMEMLIMIT=") {
		t.Error("deployment.yaml sets no GOMEMLIMIT")
	}
	args := make([]string, len(c.Args))
	copy(args, c.Args)
	for i := range args {
		if i > 0 && args[i-1] == "--addr" {
			args[i] = "0.0.0.0:0" // the Deployment's interface, any free port
		}
	}

	bin := filepath.Join(t.TempDir(), "lcnet")
	build := exec.Command("go", "build", "-o", bin, "./cmd/lcnet")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var logs testbin.Output
	cmd.Stdout = &logs
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// The JSON log's "listening" line gives the port.
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			_, _ = logs.Write(append(sc.Bytes(), '\n'))
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" {
				addr <- l.Addr
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		base = "http://127.0.0.1:" + port
	case <-time.After(30 * time.Second):
		t.Fatalf("lcnet serve did not start:\n%s", logs.String())
	}
	url := base + "/v1/models/m/classify"
	healthy := solid(t, "png", red, 64, 64)
	if status, body, err := post(t.Context(), url, "image/png", healthy); err != nil || status != 200 {
		t.Fatalf("before the bombs: %d %v %s", status, err, body)
	}
	idle := vmHWM(t, cmd.Process.Pid)

	// Near the 64 Mpx cap (over the per-image limit), and just under the
	// per-image limit by the decoder's own cost.
	over := [][]byte{testimage.TIFF16Bomb(8000, 8000), testimage.PNG16Bomb(8000, 8000, true)}
	under := [][]byte{testimage.TIFF16Bomb(3150, 3150), testimage.PNG16Bomb(4000, 4000, true)}
	var bombs [][]byte
	for i := range 16 {
		if i%4 == 0 {
			bombs = append(bombs, over[i/4%2])
		} else {
			bombs = append(bombs, under[i%2])
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	statuses := make([]int, len(bombs))
	start := time.Now()
	for i, b := range bombs {
		wg.Go(func() {
			status, body, err := post(ctx, url, "application/octet-stream", b)
			statuses[i] = status
			switch {
			case err != nil:
				t.Errorf("bomb %d: %v", i, err)
			case status != http.StatusOK && status != http.StatusRequestEntityTooLarge && status != http.StatusServiceUnavailable:
				t.Errorf("bomb %d: %d %s", i, status, body)
			}
		})
	}
	time.Sleep(500 * time.Millisecond) // the bombs are decoding
	hstart := time.Now()
	status, body, err := post(ctx, url, "image/png", healthy)
	took := time.Since(hstart)
	if err != nil || status != http.StatusOK {
		t.Errorf("healthy request during the bombs: %d %v %s", status, err, body)
	}
	wg.Wait()
	peak := vmHWM(t, cmd.Process.Pid)
	budget := "?"
	if m := regexp.MustCompile(`"decode_budget_mib":(\d+)`).FindStringSubmatch(logs.String()); m != nil {
		budget = m[1]
	}
	t.Logf("16 bombs in %v: statuses %v; healthy request %d in %v; VmHWM %d MiB (%d MiB before the bombs), decode budget %s MiB, pod limit %d MiB",
		time.Since(start).Round(time.Millisecond), statuses, status, took.Round(time.Millisecond), peak>>20, idle>>20, budget, limit>>20)
	if peak >= limit {
		t.Errorf("peak RSS %d MiB, over the pod's limit of %d MiB: the kernel would have killed it", peak>>20, limit>>20)
	}
	if t.Failed() {
		t.Logf("server log:\n%s", logs.String())
	}
}
