package api

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lcnet/lcnet/storage"
	"github.com/lcnet/lcnet/zoo"
)

// uploadBody is a multipart upload of one file.
func uploadBody(t testing.TB, name, file string, data []byte) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("name", name); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile("file", file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

// TestUploadErrorNamesNoServerPath uploads checkpoints convert cannot read
// into a real zoo: the 422 says what is wrong, under the name the client
// sent, and names neither the temp dir the upload was saved in nor the
// store; the upload's files are gone afterwards.
func TestUploadErrorNamesNoServerPath(t *testing.T) {
	z, dir := realZoo(t, nil)
	ts, _ := serveZoo(t, z, nil)
	for _, tc := range []struct{ file, data string }{
		{"model.pdparams", "not a checkpoint"},
		{"model.tar", "not a tar"},
		{"inference.json", "{"},
	} {
		body, ct := uploadBody(t, "junk", tc.file, []byte(tc.data))
		r := do(t, "POST", ts.URL+"/v1/models", ct, body)
		p := checkProblem(t, r, http.StatusUnprocessableEntity, "")
		t.Logf("%s: %s", tc.file, p.Detail)
		for _, private := range []string{"/tmp", os.TempDir(), dir} {
			if strings.Contains(string(r.body), private) {
				t.Errorf("%s: the body names %s: %s", tc.file, private, r.body)
			}
		}
		if !strings.HasPrefix(p.Instance, "urn:lcnet:error:") {
			t.Errorf("%s: instance %q, want an error id", tc.file, p.Instance)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, "tmp", "lcnet-upload-*"))
	if len(left) > 0 {
		t.Errorf("uploads left behind: %v", left)
	}
}

// TestServerFaults checks the status and body of errors that are the
// server's, not the request's.
func TestServerFaults(t *testing.T) {
	full := fmt.Errorf("writing weights of m:2: %w", fmt.Errorf("%w: %w", storage.ErrNoSpace,
		&fs.PathError{Op: "write", Path: "/srv/lcnet/models/m/2/.tmp-weights", Err: syscall.ENOSPC}))
	png := solid(t, "png", red, 20, 20)
	for _, tc := range []struct {
		name       string
		importErr  error
		loadErr    error
		status     int
		say        string
		mustNotSay []string
	}{
		{"disk full on upload", full, nil, http.StatusInsufficientStorage, "out of space", []string{"/srv", "ENOSPC", "no space"}},
		{"disk full wrapped as 422", &httpError{status: 422, detail: "importing the upload: " + full.Error(), err: full}, nil,
			http.StatusInsufficientStorage, "out of space", []string{"/srv"}},
		{"unclassified load error", nil, errors.New("open /srv/lcnet/models/m/1/weights.safetensors: input/output error"),
			http.StatusInternalServerError, "internal server error", []string{"/srv", "input/output"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake("m")
			f.importErr, f.loadErr = tc.importErr, tc.loadErr
			var logs bytes.Buffer
			_, ts := newTestServer(t, f, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
			var r result
			if tc.importErr != nil {
				body, ct := uploadBody(t, "m", "model.pdparams", []byte("x"))
				r = do(t, "POST", ts.URL+"/v1/models", ct, body)
			} else {
				r = do(t, "POST", ts.URL+"/v1/models/m/classify", "image/png", bytes.NewReader(png))
			}
			p := checkProblem(t, r, tc.status, tc.say)
			for _, s := range tc.mustNotSay {
				if strings.Contains(string(r.body), s) {
					t.Errorf("the body says %q: %s", s, r.body)
				}
			}
			id, ok := strings.CutPrefix(p.Instance, "urn:lcnet:error:")
			if !ok || !strings.Contains(p.Detail, id) {
				t.Fatalf("instance %q and detail %q do not carry one error id", p.Instance, p.Detail)
			}
			if !strings.Contains(logs.String(), "error_id="+id) || !strings.Contains(logs.String(), "/srv/lcnet/models/m/") {
				t.Errorf("the log has no full error under error_id %s:\n%s", id, logs.String())
			}
		})
	}
}

func TestScrubPaths(t *testing.T) {
	store := t.TempDir()
	st, err := storage.NewLocal(store)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Zoo: zoo.New(st)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tmp := os.TempDir()
	for _, tc := range []struct{ in, want string }{
		{"open " + store + "/tmp/lcnet-upload-1/model.pdparams: bad magic", "open model.pdparams: bad magic"},
		{"reading " + tmp + "/lcnet-upload-9/inference.json, line 2", "reading inference.json, line 2"},
		{`store "` + store + `" is read-only`, `store "(server directory)" is read-only`},
		{"directory " + tmp + "/lcnet-upload-42 has inference.json", "directory (the upload) has inference.json"},
		{"model m has no version 7", "model m has no version 7"},
	} {
		if got := s.scrubPaths(tc.in); got != tc.want {
			t.Errorf("scrubPaths(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestReservedVersionWord: "latest" cannot be uploaded as a version (it
// would be served but never named), and a version stored under it before
// it was reserved can be deleted.
func TestReservedVersionWord(t *testing.T) {
	z, dir := realZoo(t, nil)
	ts, _ := serveZoo(t, z, nil)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := errors.Join(mw.WriteField("name", "m"), mw.WriteField("version", "latest")); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile("file", "model.pdparams")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	checkProblem(t, do(t, "POST", ts.URL+"/v1/models", mw.FormDataContentType(), &buf), http.StatusBadRequest, "reserved")

	vdir := filepath.Join(dir, "models", "m", "latest")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vdir, "manifest.json"), []byte(`{"name":"m","version":"latest"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := do(t, "DELETE", ts.URL+"/v1/models/m/versions/latest", "", nil); r.status != http.StatusNoContent {
		t.Fatalf("deleting the legacy version latest: %d %s", r.status, r.body)
	}
	checkProblem(t, do(t, "DELETE", ts.URL+"/v1/models/m/versions/latest", "", nil), http.StatusNotFound, "")
}
