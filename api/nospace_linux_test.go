//go:build linux

package api

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/internal/testdisk"
	"github.com/lcnet/lcnet/storage"
	"github.com/lcnet/lcnet/zoo"
)

// TestUploadToFullStore uploads 2 MiB to a store on a 1 MiB tmpfs: the
// answer is 507 without the store's path, not a 400 blaming the upload.
// Skipped where mounting is not allowed.
func TestUploadToFullStore(t *testing.T) {
	dir := testdisk.Tmpfs(t, "1m")
	st, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := serveZoo(t, zoo.New(st), nil)
	body, ct := uploadBody(t, "m", "model.pdparams", bytes.Repeat([]byte("x"), 2<<20))
	r := do(t, "POST", ts.URL+"/v1/models", ct, body)
	checkProblem(t, r, http.StatusInsufficientStorage, "out of space")
	if strings.Contains(string(r.body), dir) || strings.Contains(string(r.body), "/tmp") {
		t.Errorf("the body names a server path: %s", r.body)
	}
}

// TestFinetuneToFullTempDir spools a 2 MiB data set into a temp dir on a
// 1 MiB tmpfs: 507, as an upload to a full store, not a 400 blaming the
// data set.
func TestFinetuneToFullTempDir(t *testing.T) {
	dir := testdisk.Tmpfs(t, "1m")
	z, _ := realZoo(t, map[string]string{"m": textlinePath(t)})
	ts, _ := serveZoo(t, z, func(c *Config) { c.TempDir = dir })
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("dataset", "d.zip")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(bytes.Repeat([]byte("x"), 2<<20)); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	r := do(t, "POST", ts.URL+"/v1/models/m/finetune", mw.FormDataContentType(), &body)
	checkProblem(t, r, http.StatusInsufficientStorage, "out of space")
	if strings.Contains(string(r.body), dir) {
		t.Errorf("the body names a server path: %s", r.body)
	}
}
