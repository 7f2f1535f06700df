package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
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

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
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

// dockerfile is deploy/Dockerfile parsed by BuildKit's own parser.
type dockerfile struct {
	stages []*stage
}

type stage struct {
	image, name string
	instrs      []*parser.Node
}

func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile: %s", w.Short)
	}
	var d dockerfile
	for _, n := range res.AST.Children {
		if strings.EqualFold(n.Value, "from") {
			args := words(n)
			s := &stage{image: args[0]}
			if len(args) == 3 && strings.EqualFold(args[1], "as") {
				s.name = args[2]
			}
			d.stages = append(d.stages, s)
			continue
		}
		if len(d.stages) == 0 {
			if !strings.EqualFold(n.Value, "arg") {
				t.Fatalf("Dockerfile line %d: %s before FROM", n.StartLine, n.Value)
			}
			continue
		}
		s := d.stages[len(d.stages)-1]
		s.instrs = append(s.instrs, n)
	}
	if len(d.stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s); want a build stage and a runtime stage", len(d.stages))
	}
	return d
}

func words(n *parser.Node) []string {
	var out []string
	for w := n.Next; w != nil; w = w.Next {
		out = append(out, w.Value)
	}
	return out
}

func (s *stage) all(instr string) []*parser.Node {
	var out []*parser.Node
	for _, n := range s.instrs {
		if strings.EqualFold(n.Value, instr) {
			out = append(out, n)
		}
	}
	return out
}

// last is the instruction that takes effect (USER, CMD, ENTRYPOINT).
func (s *stage) last(t *testing.T, instr string) *parser.Node {
	t.Helper()
	all := s.all(instr)
	if len(all) == 0 {
		t.Fatalf("Dockerfile: the final stage has no %s", strings.ToUpper(instr))
	}
	return all[len(all)-1]
}

// execForm returns an ENTRYPOINT or CMD in JSON form; the shell form would
// need a shell (the final image has none) and would not pass SIGTERM on.
func execForm(t *testing.T, n *parser.Node) []string {
	t.Helper()
	if !n.Attributes["json"] {
		t.Fatalf("Dockerfile line %d: %s is in shell form; use the exec (JSON) form", n.StartLine, n.Original)
	}
	return words(n)
}

// image is what the Dockerfile promises about the image it builds.
type image struct {
	uid        int64
	port       int
	entrypoint []string
	cmd        []string
	env        map[string]string
}

func TestDockerfile(t *testing.T) {
	img := checkDockerfile(t)
	t.Logf("image: uid %d, port %d, %q %q, env %v", img.uid, img.port, img.entrypoint, img.cmd, img.env)
}

func checkDockerfile(t *testing.T) image {
	t.Helper()
	d := parseDockerfile(t)
	final := d.stages[len(d.stages)-1]

	// The build: static, path-free, of cmd/lcnet.
	var builder *stage
	var binOut string
	reOut := regexp.MustCompile(`-o\s+(\S+)`)
	for _, s := range d.stages[:len(d.stages)-1] {
		for _, n := range s.all("run") {
			cmd := strings.Join(words(n), " ")
			if !strings.Contains(cmd, "go build") {
				continue
			}
			builder = s
			for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/lcnet"} {
				if !strings.Contains(cmd, want) {
					t.Errorf("Dockerfile line %d: the go build lacks %s: %s", n.StartLine, want, cmd)
				}
			}
			if m := reOut.FindStringSubmatch(cmd); m != nil {
				binOut = m[1]
			}
		}
	}
	if builder == nil || binOut == "" {
		t.Fatal("Dockerfile: no build stage runs `go build -o BIN ./cmd/lcnet`")
	}

	// The runtime base: no libc, no shell, but CA certificates.
	base := final.image
	switch {
	case strings.HasPrefix(base, "gcr.io/distroless/static"), strings.HasPrefix(base, "gcr.io/distroless/base"):
		// distroless ships /etc/ssl/certs/ca-certificates.crt.
	case base == "scratch":
		certs := false
		for _, n := range final.all("copy") {
			certs = certs || strings.Contains(strings.Join(words(n), " "), "ca-certificates")
		}
		if !certs {
			t.Error("Dockerfile: a scratch image needs the CA certificates copied in (https S3 endpoints, --pull)")
		}
	default:
		t.Errorf("Dockerfile: final stage FROM %s; want a distroless static image or scratch", base)
	}

	// The binary comes from the build stage; the entrypoint runs it.
	binDest := ""
	for _, n := range final.all("copy") {
		w := words(n)
		if slices.Contains(n.Flags, "--from="+builder.name) && len(w) == 2 && w[0] == binOut {
			binDest = w[1]
		}
	}
	if binDest == "" {
		t.Fatalf("Dockerfile: the final stage does not COPY --from=%s %s", builder.name, binOut)
	}
	img := image{env: map[string]string{}}
	img.entrypoint = execForm(t, final.last(t, "entrypoint"))
	img.cmd = execForm(t, final.last(t, "cmd"))
	if img.entrypoint[0] != binDest {
		t.Errorf("Dockerfile: ENTRYPOINT runs %s, but the binary is copied to %s", img.entrypoint[0], binDest)
	}

	// Non-root, numerically, so Kubernetes' runAsNonRoot can verify it.
	user := words(final.last(t, "user"))[0]
	uidStr, _, _ := strings.Cut(user, ":")
	uid, err := strconv.ParseInt(uidStr, 10, 64)
	if err != nil {
		t.Errorf("Dockerfile: USER %s is not numeric; Kubernetes cannot check runAsNonRoot against a name", user)
	} else if uid == 0 {
		t.Errorf("Dockerfile: USER %s is root", user)
	}
	img.uid = uid

	exposes := words(final.last(t, "expose"))
	if len(exposes) != 1 {
		t.Fatalf("Dockerfile: EXPOSE %q; want one port", exposes)
	}
	img.port, err = strconv.Atoi(strings.TrimSuffix(exposes[0], "/tcp"))
	if err != nil || img.port != 8080 {
		t.Errorf("Dockerfile: EXPOSE %s; want 8080", exposes[0])
	}

	for _, n := range final.all("env") {
		w := words(n)
		// BuildKit gives ENV as (name, value, separator) triples.
		for i := 0; i+1 < len(w); i += 3 {
			checkEnvName(t, "Dockerfile ENV", w[i])
			img.env[w[i]] = w[i+1]
		}
	}
	checkArgs(t, "Dockerfile ENTRYPOINT+CMD", append(slices.Clone(img.entrypoint[1:]), img.cmd...), img.port)
	return img
}

// TestDockerfileCommandRuns runs the image's command line with the binary
// built here (only the address moved to a loopback port and the store to a
// temp dir): the flags parse and the probes answer.
func TestDockerfileCommandRuns(t *testing.T) {
	img := checkDockerfile(t)
	env := map[string]string{}
	for k, v := range img.env {
		env[k] = v
	}
	env["LCNET_STORE"] = t.TempDir()
	srv := startServe(t, append(slices.Clone(img.entrypoint[1:]), img.cmd...), env)
	for _, path := range []string{"/healthz", "/readyz"} {
		srv.expect200(t, path)
	}
}

// manifests is every object in deploy/kubernetes, decoded strictly.
type manifests struct {
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	secrets     []*corev1.Secret
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	pdbs        []*policyv1.PodDisruptionBudget
	files       []string
}

// newObject maps apiVersion and kind to the real API type. Kinds not
// listed are refused rather than passed unchecked.
func newObject(tm metav1.TypeMeta) any {
	switch tm.APIVersion + "/" + tm.Kind {
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}
	case "v1/Service":
		return &corev1.Service{}
	case "v1/Secret":
		return &corev1.Secret{}
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	}
	return nil
}

// decodeStrict decodes one YAML document into its API type: an unknown or
// misspelled field, a duplicate key, a wrong type or a malformed quantity
// is an error.
func decodeStrict(doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	obj := newObject(tm)
	if obj == nil {
		return nil, fmt.Errorf("apiVersion %q kind %q: not a type this test knows; add it to newObject", tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// splitDocs splits a YAML stream at its "---" lines.
func splitDocs(b []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if strings.TrimRight(sc.Text(), " ") == "---" {
			docs = append(docs, slices.Clone(cur.Bytes()))
			cur.Reset()
			continue
		}
		cur.Write(sc.Bytes())
		cur.WriteByte('\n')
	}
	docs = append(docs, cur.Bytes())
	var out [][]byte
	for _, d := range docs {
		var v any
		if yaml.Unmarshal(d, &v) == nil && v != nil {
			out = append(out, d)
		}
	}
	return out
}

func loadManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes: %v", err)
	}
	var m manifests
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		m.files = append(m.files, filepath.Base(f))
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs := splitDocs(b)
		if len(docs) == 0 {
			t.Errorf("%s: no objects", f)
		}
		for i, doc := range docs {
			obj, err := decodeStrict(doc)
			if err != nil {
				t.Errorf("%s document %d: %v", f, i+1, err)
				continue
			}
			switch o := obj.(type) {
			case *appsv1.Deployment:
				m.deployments = append(m.deployments, o)
			case *corev1.Service:
				m.services = append(m.services, o)
			case *corev1.Secret:
				m.secrets = append(m.secrets, o)
			case *autoscalingv2.HorizontalPodAutoscaler:
				m.hpas = append(m.hpas, o)
			case *policyv1.PodDisruptionBudget:
				m.pdbs = append(m.pdbs, o)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if len(m.deployments) != 1 || len(m.services) != 1 || len(m.secrets) != 1 || len(m.hpas) != 1 {
		t.Fatalf("want one Deployment, Service, Secret and HorizontalPodAutoscaler; have %d, %d, %d, %d",
			len(m.deployments), len(m.services), len(m.secrets), len(m.hpas))
	}
	return m
}

// TestStrictDecodingCatchesMistakes makes sure the decoding above would
// notice the mistakes it is there for.
func TestStrictDecodingCatchesMistakes(t *testing.T) {
	b, err := os.ReadFile("kubernetes/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeStrict(b); err != nil {
		t.Fatalf("deployment.yaml itself: %v", err)
	}
	for _, tc := range []struct{ what, old, new string }{
		{"a misspelled field", "readinessProbe:", "readinesProbe:"},
		{"a string for an integer", "containerPort: 8080", `containerPort: "8080"`},
		{"a malformed quantity", "memory: 1Gi", "memory: 1GB"},
		{"a field at the wrong level", "  replicas: 2", "  replica: 2"},
		{"an unknown kind", "kind: Deployment", "kind: Deploymnet"},
	} {
		bad := strings.Replace(string(b), tc.old, tc.new, 1)
		if bad == string(b) {
			t.Fatalf("%s: %q is not in deployment.yaml", tc.what, tc.old)
		}
		if _, err := decodeStrict([]byte(bad)); err == nil {
			t.Errorf("%s (%q -> %q) decoded without error", tc.what, tc.old, tc.new)
		} else {
			t.Logf("%s: %v", tc.what, err)
		}
	}
}

// kustomization is the part of kustomize's Kustomization these manifests
// use; decoded strictly, so a field kustomize would not know fails here.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	m := loadManifests(t)
	b, err := os.ReadFile("kubernetes/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: %s %s", k.APIVersion, k.Kind)
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, m.files) {
		t.Errorf("kustomization.yaml resources %v; the directory has %v", got, m.files)
	}
}

func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t)
	img := checkDockerfile(t)
	d := m.deployments[0]
	spec := d.Spec.Template.Spec

	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("Deployment: replicas %s; want 2", fmtPtr(d.Spec.Replicas))
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("Deployment: selector %v does not match the pod labels %v (%v)", d.Spec.Selector, d.Spec.Template.Labels, err)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("Deployment: %d containers; want 1", len(spec.Containers))
	}
	c := spec.Containers[0]

	// Ports, and the command line the image would run with these args.
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != int32(img.port) {
		t.Errorf("Deployment: container ports %v; want the image's %d", c.Ports, img.port)
	}
	argv := c.Args
	if len(c.Command) > 0 {
		argv = append(slices.Clone(c.Command[1:]), c.Args...)
	}
	if len(argv) == 0 {
		argv = img.cmd
	}
	checkArgs(t, "Deployment args", argv, int(c.Ports[0].ContainerPort))

	// Probes on the routes the server has, on the container's port.
	for _, p := range []struct {
		what  string
		probe *corev1.Probe
		path  string
	}{{"readinessProbe", c.ReadinessProbe, "/readyz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("Deployment: no HTTP %s", p.what)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("Deployment: %s on %s; want %s", p.what, p.probe.HTTPGet.Path, p.path)
		}
		if port := p.probe.HTTPGet.Port; port.StrVal != c.Ports[0].Name && int32(port.IntValue()) != c.Ports[0].ContainerPort {
			t.Errorf("Deployment: %s on port %s, not the container's %s/%d", p.what, port.String(), c.Ports[0].Name, c.Ports[0].ContainerPort)
		}
	}

	// Resources: requests (the HPA's utilization is relative to the CPU
	// request) not above limits.
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq || !okLim {
			t.Errorf("Deployment: %s request or limit missing", r)
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("Deployment: %s request %s above the limit %s", r, req.String(), lim.String())
		}
	}

	// Security: non-root as the image's user, read-only root with a
	// writable /tmp (uploads are staged there).
	psc, sc := spec.SecurityContext, c.SecurityContext
	if psc == nil || sc == nil {
		t.Fatal("Deployment: pod and container securityContext are required")
	}
	if !ptrTrue(psc.RunAsNonRoot) || !ptrTrue(sc.RunAsNonRoot) {
		t.Error("Deployment: runAsNonRoot must be true")
	}
	if psc.RunAsUser == nil || *psc.RunAsUser != img.uid {
		t.Errorf("Deployment: runAsUser %s; the image's USER is %d", fmtPtr(psc.RunAsUser), img.uid)
	}
	if !ptrTrue(sc.ReadOnlyRootFilesystem) {
		t.Error("Deployment: readOnlyRootFilesystem must be true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("Deployment: allowPrivilegeEscalation must be false")
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Error("Deployment: capabilities must drop ALL")
	}
	tmp := false
	for _, vm := range c.VolumeMounts {
		for _, v := range spec.Volumes {
			tmp = tmp || (vm.MountPath == "/tmp" && vm.Name == v.Name && v.EmptyDir != nil && !vm.ReadOnly)
		}
	}
	if !tmp {
		t.Error("Deployment: a read-only root needs a writable emptyDir at /tmp (uploads are staged there)")
	}

	// Environment: variables lcnet reads, the store on S3, credentials
	// from the Secret.
	secret := m.secrets[0]
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("Deployment: env %s set twice", e.Name)
		}
		env[e.Name] = e
		checkEnvName(t, "Deployment env", e.Name)
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref := e.ValueFrom.SecretKeyRef
			_, inData := secret.Data[ref.Key]
			_, inString := secret.StringData[ref.Key]
			if ref.Name != secret.Name || !inData && !inString {
				t.Errorf("Deployment: env %s from secret %s key %s, which secret.yaml does not have", e.Name, ref.Name, ref.Key)
			}
		}
		if e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil && e.ValueFrom.ResourceFieldRef.ContainerName != c.Name {
			t.Errorf("Deployment: env %s from the resources of container %q", e.Name, e.ValueFrom.ResourceFieldRef.ContainerName)
		}
	}
	checkS3Store(t, env["LCNET_STORE"].Value)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		if e, ok := env[k]; !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("Deployment: %s must come from the Secret", k)
		}
	}
	if e, ok := env["LCNET_API_KEY"]; ok && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
		t.Error("Deployment: LCNET_API_KEY must come from the Secret, not a literal")
	}

	// The Secret is an example: every value is a marked placeholder.
	if len(secret.StringData)+len(secret.Data) == 0 {
		t.Error("Secret: no keys")
	}
	for k, v := range secret.StringData {
		if !strings.Contains(v, "REPLACE_ME") {
			t.Errorf("Secret: %s is not a REPLACE_ME placeholder; real credentials do not belong in git", k)
		}
	}
	if len(secret.Data) > 0 {
		t.Error("Secret: use stringData with REPLACE_ME placeholders, not base64 data")
	}

	// Service: selects the pods, targets the container's port.
	svc := m.services[0]
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) || len(svc.Spec.Selector) == 0 {
		t.Errorf("Service: selector %v does not select the pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
	}
	for _, p := range svc.Spec.Ports {
		tp := p.TargetPort
		if tp.StrVal != c.Ports[0].Name && int32(tp.IntValue()) != c.Ports[0].ContainerPort {
			t.Errorf("Service: port %d targets %s, which the container does not expose", p.Port, tp.String())
		}
	}

	// HPA: scales this Deployment on CPU.
	hpa := m.hpas[0]
	ref := hpa.Spec.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != d.Name {
		t.Errorf("HPA: scales %s %s %s, not the Deployment %s", ref.APIVersion, ref.Kind, ref.Name, d.Name)
	}
	cpu := false
	for _, mt := range hpa.Spec.Metrics {
		cpu = cpu || (mt.Type == autoscalingv2.ResourceMetricSourceType && mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU &&
			mt.Resource.Target.Type == autoscalingv2.UtilizationMetricType && mt.Resource.Target.AverageUtilization != nil)
	}
	if !cpu {
		t.Error("HPA: no CPU utilization metric")
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
		t.Errorf("HPA: min %s max %d; want at least 2 replicas always", fmtPtr(hpa.Spec.MinReplicas), hpa.Spec.MaxReplicas)
	}
	for _, pdb := range m.pdbs {
		s, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || !s.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("PodDisruptionBudget: selector does not select the pods (%v)", err)
		}
	}

	// The pod must be able to finish a request after SIGTERM.
	if g := spec.TerminationGracePeriodSeconds; g == nil || *g < 35 {
		t.Errorf("Deployment: terminationGracePeriodSeconds %s is shorter than a request (30 s) plus the preStop pause", fmtPtr(g))
	}
}

// checkS3Store checks an s3:// store URL the way storage.NewS3 reads it,
// without connecting to the example endpoint.
func checkS3Store(t *testing.T, spec string) {
	t.Helper()
	if !strings.HasPrefix(spec, "s3://") {
		t.Fatalf("Deployment: LCNET_STORE %q is not an s3:// store; replicas need a shared zoo", spec)
	}
	u, err := url.Parse(spec)
	if err != nil || u.Host == "" {
		t.Fatalf("Deployment: LCNET_STORE %q: want s3://BUCKET/PREFIX?endpoint=...&region=... (%v)", spec, err)
	}
	if u.User != nil {
		t.Error("Deployment: LCNET_STORE carries credentials; they belong in the Secret")
	}
	for k := range u.Query() {
		if k != "endpoint" && k != "region" {
			t.Errorf("Deployment: LCNET_STORE parameter %q; storage knows endpoint and region", k)
		}
	}
}

func ptrTrue(b *bool) bool { return b != nil && *b }

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
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
