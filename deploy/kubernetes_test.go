package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

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

	// The Go runtime must collect before the kernel kills the pod: a
	// GOMEMLIMIT a little under the memory limit.
	checkMemLimit(t, env["GOMEMLIMIT"], c.Resources.Limits[corev1.ResourceMemory])

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

// checkMemLimit checks that GOMEMLIMIT is set, in the runtime's syntax,
// to 80-95% of the container's memory limit: above, garbage may take the
// process past the limit before the collector runs; far below, the
// collector runs all the time for memory the pod has.
func checkMemLimit(t *testing.T, e corev1.EnvVar, limit resource.Quantity) {
	t.Helper()
	if e.Value == "" || e.ValueFrom != nil {
		t.Errorf("Deployment: GOMEMLIMIT %+v; want a literal a little under limits.memory (%s)", e, limit.String())
		return
	}
	v, err := goMemLimit(e.Value)
	if err != nil {
		t.Errorf("Deployment: GOMEMLIMIT %q: %v", e.Value, err)
		return
	}
	lim := limit.Value()
	if lim <= 0 || v > lim*95/100 || v < lim*80/100 {
		t.Errorf("Deployment: GOMEMLIMIT %s is %d bytes; want 80-95%% of limits.memory %s (%d)", e.Value, v, limit.String(), lim)
	}
}

// goMemLimit parses GOMEMLIMIT as the Go runtime does: a number of bytes
// with an optional B, KiB, MiB, GiB or TiB suffix.
func goMemLimit(s string) (int64, error) {
	for _, u := range []struct {
		suffix string
		shift  int
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("not a number of %s", u.suffix)
			}
			return v << u.shift, nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("want bytes with an optional B, KiB, MiB, GiB or TiB suffix (Go's syntax, not Kubernetes' Mi)")
	}
	return v, nil
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
