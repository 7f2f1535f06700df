package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/imaging"
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
}

func (e *httpError) Error() string { return e.detail }
func (e *httpError) Unwrap() error { return e.err }

func problemf(status int, format string, args ...any) *httpError {
	err := fmt.Errorf(format, args...)
	return &httpError{status: status, detail: err.Error(), err: errors.Unwrap(err)}
}

// statusOf maps an error to a status code and a detail for the client.
func statusOf(err error) *httpError {
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
	return &httpError{status: http.StatusInternalServerError, detail: err.Error(), err: err}
}

// writeError answers with an RFC 9457 problem document.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	he := statusOf(err)
	status := he.status
	if status == 499 {
		status = http.StatusServiceUnavailable
	}
	p := client.Problem{
		Type:     "about:blank",
		Title:    http.StatusText(status),
		Status:   status,
		Detail:   he.detail,
		Instance: r.URL.Path,
		Models:   he.models,
	}
	if strings.HasPrefix(r.URL.Path, "/v2/") {
		p.Error = he.detail
	}
	if he.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(he.retryAfter.Round(time.Second)/time.Second))))
	}
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
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
