package deploy_test

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

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
