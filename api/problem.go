package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/storage"
	"github.com/lcnet/lcnet/zoo"
)

// httpError is an error with the status it should be answered with. Handlers
// return errors; writeError is the one place that turns them into
// problem+json, so no handler formats an error response itself.
type httpError struct {
	status     int
	detail     string
	retryAfter time.Duration // > 0 adds Retry-After
	models     []string
	err        error
	// internal marks an error nothing classified: its text is the
	// server's business, so the answer gets a generic detail.
	internal bool
}

func (e *httpError) Error() string { return e.detail }
func (e *httpError) Unwrap() error { return e.err }

func problemf(status int, format string, args ...any) *httpError {
	err := fmt.Errorf(format, args...)
	return &httpError{status: status, detail: err.Error(), err: errors.Unwrap(err)}
}

// statusOf maps an error to a status code and a detail for the client.
func statusOf(err error) *httpError {
	// A full store is the operator's problem whatever the handler thought
	// of the error, and the cause names server paths.
	if errors.Is(err, storage.ErrNoSpace) {
		return &httpError{status: http.StatusInsufficientStorage, err: err,
			detail: "the model store is out of space: the server's operator must free space or raise the quota"}
	}
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, context.DeadlineExceeded):
		return &httpError{status: http.StatusRequestTimeout, detail: "reading the request body took longer than the request deadline: " + err.Error(), err: err}
	case errors.As(err, &mbe):
		return &httpError{status: http.StatusRequestEntityTooLarge, detail: fmt.Sprintf("request body larger than the limit of %d bytes", mbe.Limit), err: err}
	case errors.Is(err, zoo.ErrNotFound):
		return &httpError{status: http.StatusNotFound, detail: err.Error(), err: err}
	case errors.Is(err, zoo.ErrVersionExists):
		return &httpError{status: http.StatusConflict, detail: err.Error(), err: err}
	case errors.Is(err, zoo.ErrBadManifest):
		// The operator's to repair, but the client must learn which
		// version is unusable and why; the text names store keys, not
		// server paths.
		return &httpError{status: http.StatusInternalServerError, detail: err.Error(), err: err}
	case errors.Is(err, zoo.ErrChecksum):
		return &httpError{status: http.StatusInternalServerError, detail: err.Error(), err: err}
	case errors.Is(err, zoo.ErrInvalidName):
		return &httpError{status: http.StatusBadRequest, detail: err.Error(), err: err}
	case errors.Is(err, imaging.ErrUnsupported):
		return &httpError{status: http.StatusUnsupportedMediaType, detail: err.Error(), err: err}
	case errors.Is(err, imaging.ErrTooLarge):
		return &httpError{status: http.StatusRequestEntityTooLarge, detail: err.Error(), err: err}
	case errors.Is(err, imaging.ErrCorrupt):
		return &httpError{status: http.StatusUnprocessableEntity, detail: err.Error(), err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &httpError{status: http.StatusServiceUnavailable, detail: "request deadline exceeded: " + err.Error(), retryAfter: time.Second, err: err}
	case errors.Is(err, context.Canceled):
		// The client went away; the status is for the logs only.
		return &httpError{status: 499, detail: "request canceled", err: err}
	}
	return &httpError{status: http.StatusInternalServerError, detail: err.Error(), err: err, internal: true}
}

// writeError answers with an RFC 9457 problem document.
//
// A 500, 507 or 422 gets an opaque instance, urn:lcnet:error:ID, and a
// log line with the same error_id and the full error. An error nothing
// classified (a bare 500, a panic) is answered with a generic detail: its
// text (store keys, library messages) is for the operator. Classified
// errors keep their detail, which tells the client what went wrong (a 422
// names what is wrong with the checkpoint). No detail names the server's
// store or temp directories.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	he := statusOf(err)
	status := he.status
	if status == 499 {
		status = http.StatusServiceUnavailable
	}
	detail := s.scrubPaths(he.detail)
	instance := r.URL.Path
	if status == http.StatusInternalServerError || status == http.StatusInsufficientStorage || status == http.StatusUnprocessableEntity {
		id := newErrorID()
		instance = "urn:lcnet:error:" + id
		if he.internal {
			detail = "internal server error"
		}
		if status >= 500 {
			detail += "; the server's log has the cause under error_id " + id
		}
		level := slog.LevelError
		if status == http.StatusUnprocessableEntity {
			level = slog.LevelWarn
		}
		s.log.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path, "status", status,
			"error_id", id, "request_id", middleware.GetReqID(r.Context()), "err", err)
	} else if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", status,
			"request_id", middleware.GetReqID(r.Context()), "err", err)
	}
	p := client.Problem{
		Type:     "about:blank",
		Title:    http.StatusText(status),
		Status:   status,
		Detail:   detail,
		Instance: instance,
		Models:   he.models,
	}
	if strings.HasPrefix(r.URL.Path, "/v2/") {
		p.Error = detail
	}
	if he.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(he.retryAfter.Round(time.Second)/time.Second))))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// newErrorID names one failure in the answer and in the log. It is random,
// not the request id, which carries the host name.
func newErrorID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// privateDirs are the server's directories a problem detail must not
// name: the store's root, the upload temp area and the system temp dir.
func (s *Server) privateDirs() []string {
	var dirs []string
	if s.cfg.Zoo != nil {
		if l, ok := s.cfg.Zoo.Store().(*storage.Local); ok {
			dirs = append(dirs, l.Root())
		}
		dirs = append(dirs, uploadTempRoot(s.cfg.Zoo.Store()))
	}
	dirs = append(dirs, os.TempDir())
	for i, d := range dirs {
		dirs[i] = filepath.Clean(d)
	}
	// Longest first, so a dir inside another is replaced whole.
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	return dirs
}

// scrubPaths replaces every path under a private directory with its last
// element ("open /srv/lcnet/tmp/lcnet-upload-1/model.pdparams: ..." says
// "open model.pdparams: ..."), which is what the client sent or a store
// key's file name.
func (s *Server) scrubPaths(detail string) string {
	for _, d := range s.privateDirs() {
		if d == "" || d == string(filepath.Separator) || !strings.Contains(detail, d) {
			continue
		}
		re := regexp.MustCompile(regexp.QuoteMeta(d) + `(?:/[^\s"'():,;]*)?`)
		detail = re.ReplaceAllStringFunc(detail, func(p string) string {
			rest := strings.Trim(strings.TrimPrefix(p, d), "/")
			switch base := path.Base(rest); {
			case rest == "":
				return "(server directory)"
			case strings.HasPrefix(base, "lcnet-upload-"):
				return "(the upload)"
			default:
				return base
			}
		})
	}
	return detail
}

// writeJSON answers 200 (or status) with v.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// handle adapts an error-returning handler.
func (s *Server) handle(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}
