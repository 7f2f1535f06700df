package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lcnet/lcnet/internal/testbin"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// lcnetBin is cmd/lcnet built from this tree by TestMain: the flags and
// variables the deployment uses are checked against it, not against a list
// kept by hand.
var lcnetBin string

func TestMain(m *testing.M) { testbin.Main(m, &lcnetBin) }

// cli is what `lcnet serve --help` documents: flag names (global ones
// included) and the LCNET_* variables it reads.
type cli struct {
	flags map[string]bool
	env   map[string]bool
}

var (
	serveCLIOnce sync.Once
	serveCLI     cli
	serveCLIErr  error
)

var (
	reFlag = regexp.MustCompile(`(?m)^\s+(?:-[A-Za-z], )?--([a-z][a-z0-9-]*)`)
	reEnv  = regexp.MustCompile(`\bLCNET_[A-Z0-9_]+\b`)
)

func serveHelp(t *testing.T) cli {
	t.Helper()
	serveCLIOnce.Do(func() {
		cmd := exec.Command(lcnetBin, "serve", "--help")
		cmd.Env = cleanEnv(nil)
		out, err := cmd.CombinedOutput()
		if err != nil {
			serveCLIErr = fmt.Errorf("lcnet serve --help: %v\n%s", err, out)
			return
		}
		serveCLI = cli{flags: map[string]bool{}, env: map[string]bool{}}
		for _, m := range reFlag.FindAllStringSubmatch(string(out), -1) {
			serveCLI.flags[m[1]] = true
		}
		for _, v := range reEnv.FindAllString(string(out), -1) {
			serveCLI.env[v] = true
		}
	})
	if serveCLIErr != nil {
		t.Fatal(serveCLIErr)
	}
	// Guards the parsing itself: these are documented in the README.
	for _, f := range []string{"addr", "store", "threads", "api-key"} {
		if !serveCLI.flags[f] {
			t.Fatalf("parsed no --%s from lcnet serve --help; the help format changed", f)
		}
	}
	return serveCLI
}

// checkArgs checks an lcnet argument vector: the serve command, flags the
// binary has, and --addr listening on every interface at port.
func checkArgs(t *testing.T, where string, args []string, port int) {
	t.Helper()
	c := serveHelp(t)
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("%s: arguments %q do not start with the serve command", where, args)
	}
	addr := ""
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !c.flags[name] {
			t.Errorf("%s: lcnet serve has no flag --%s (it has %s)", where, name, keys(c.flags))
		}
		if name == "addr" {
			if !hasVal && i+1 < len(args) {
				val = args[i+1]
			}
			addr = val
		}
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: --addr %q: %v (the default 127.0.0.1 is unreachable from outside a container)", where, addr, err)
	}
	if host != "0.0.0.0" && host != "" {
		t.Errorf("%s: --addr %q listens on %s only; a container must listen on 0.0.0.0", where, addr, host)
	}
	if p != strconv.Itoa(port) {
		t.Errorf("%s: --addr %q, but the port exposed is %d", where, addr, port)
	}
}

func checkEnvName(t *testing.T, where, name string) {
	t.Helper()
	if strings.HasPrefix(name, "LCNET_") && !serveHelp(t).env[name] {
		t.Errorf("%s: lcnet serve does not read %s (it reads %s)", where, name, keys(serveHelp(t).env))
	}
}

func keys(m map[string]bool) string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return strings.Join(k, ", ")
}

// TestDeploymentCommandRuns runs the Deployment's container command line
// with the environment Kubernetes would give it (the Secret's values, the
// CPU limit), except that the store is a temp dir and the address a
// loopback port: the flags and values parse, the probes answer 200, and
// the logs are what --log-format asked for.
func TestDeploymentCommandRuns(t *testing.T) {
	m := loadManifests(t)
	img := checkDockerfile(t)
	c := m.deployments[0].Spec.Template.Spec.Containers[0]
	secret := m.secrets[0]
	env := map[string]string{}
	for k, v := range img.env {
		env[k] = v
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = secret.StringData[e.ValueFrom.SecretKeyRef.Key]
		case e.ValueFrom.ResourceFieldRef != nil:
			rf := e.ValueFrom.ResourceFieldRef
			q := c.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(rf.Resource, "limits."))]
			div := rf.Divisor
			if div.IsZero() {
				div = resource.MustParse("1")
			}
			// Kubernetes rounds a resourceFieldRef up to a whole number of divisors.
			env[e.Name] = strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(div.MilliValue()))), 10)
		default:
			t.Fatalf("env %s: a valueFrom this test cannot resolve", e.Name)
		}
	}
	dir := t.TempDir()
	env["LCNET_STORE"] = filepath.Join(dir, "store")
	env["TMPDIR"] = filepath.Join(dir, "tmp")
	env["XDG_CACHE_HOME"] = filepath.Join(dir, "cache")
	if err := os.Mkdir(env["TMPDIR"], 0o700); err != nil {
		t.Fatal(err)
	}
	argv := c.Args
	if len(argv) == 0 {
		argv = img.cmd
	}
	srv := startServe(t, argv, env)
	srv.expect200(t, c.ReadinessProbe.HTTPGet.Path)
	srv.expect200(t, c.LivenessProbe.HTTPGet.Path)
	if slices.Contains(argv, "json") {
		// Every log line so far is one JSON object.
		for _, line := range strings.Split(strings.TrimSpace(srv.logs.String()), "\n") {
			if !json.Valid([]byte(line)) {
				t.Errorf("--log-format json, but a log line is not JSON: %s", line)
			}
		}
	}
	if code := srv.stop(); code != 0 {
		t.Errorf("SIGTERM: exit %d; want 0\n%s", code, srv.logs.String())
	}
}

// served is one `lcnet` process started by a test.
type served struct {
	url  string
	cmd  *exec.Cmd
	logs *testbin.Output
	done chan struct{}
}

// startServe runs lcnet with args, its --addr moved to a free loopback
// port, and env (LCNET_* from the test's own environment dropped), and
// waits for /readyz. The process is killed when the test ends.
func startServe(t *testing.T, args []string, env map[string]string) *served {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	args = slices.Clone(args)
	for i, a := range args {
		switch {
		case a == "--addr" && i+1 < len(args):
			args[i+1] = addr
		case strings.HasPrefix(a, "--addr="):
			args[i] = "--addr=" + addr
		}
	}
	cmd := exec.Command(lcnetBin, args...)
	cmd.Env = cleanEnv(env)
	s := &served{url: "http://" + addr, cmd: cmd, logs: &testbin.Output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("lcnet %s:\n%s", strings.Join(args, " "), s.logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.done:
			t.Fatalf("lcnet %s exited: %v\n%s", strings.Join(args, " "), cmd.ProcessState, s.logs.String())
		default:
		}
		if resp, err := http.Get(s.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("lcnet %s: not ready in 30 s\n%s", strings.Join(args, " "), s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *served) expect200(t *testing.T, path string) {
	t.Helper()
	resp, err := http.Get(s.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %d; want 200", path, resp.StatusCode)
	}
}

func (s *served) stop() int {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case <-s.done:
	case <-ctx.Done():
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	return s.cmd.ProcessState.ExitCode()
}

// cleanEnv is this process's environment without LCNET_* (a developer's
// LCNET_STORE must not leak into the check), plus extra.
func cleanEnv(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LCNET_") {
			env = append(env, kv)
		}
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}
