package api

import (
	"net/http"

	httpSwagger "github.com/swaggo/http-swagger/v2"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/openapi"
	"github.com/lcnet/lcnet/web"
)

// healthz godoc
//
//	@Summary		Liveness
//	@Description	200 while the process serves HTTP.
//	@Tags			operations
//	@Produce		json
//	@Success		200	{object}	client.Health
//	@Router			/healthz [get]
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, client.Health{Status: "ok"})
	return nil
}

// readyz godoc
//
//	@Summary		Readiness
//	@Description	200 while the server accepts requests and can list its store; 503 while draining or when the store fails.
//	@Tags			operations
//	@Produce		json
//	@Success		200	{object}	client.Health
//	@Failure		503	{object}	client.Health
//	@Router			/readyz [get]
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if !s.ready(r) {
		writeJSON(w, http.StatusServiceUnavailable, client.Health{Status: "not ready"})
		return nil
	}
	writeJSON(w, http.StatusOK, client.Health{Status: "ok"})
	return nil
}

func (s *Server) ready(r *http.Request) bool {
	if s.stopping.Load() || s.draining.Load() {
		return false
	}
	_, err := s.be.models(r.Context())
	return err == nil
}

// metrics godoc
//
//	@Summary		Prometheus metrics
//	@Description	Requests by route and status, latency histograms, batch sizes, queue depth, models loaded, and the Go runtime.
//	@Tags			operations
//	@Produce		plain
//	@Success		200	{string}	string	"Prometheus text format"
//	@Router			/metrics [get]
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	s.met.handler().ServeHTTP(w, r)
}

// openAPIJSON godoc
//
//	@Summary	This API's OpenAPI 3.0 document
//	@Tags		operations
//	@Produce	json
//	@Success	200	{object}	object
//	@Router		/openapi.json [get]
func (s *Server) openAPIJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openapi.JSON)
}

// openAPIYAML godoc
//
//	@Summary	This API's OpenAPI 3.0 document as YAML
//	@Tags		operations
//	@Produce	application/yaml
//	@Success	200	{string}	string
//	@Router		/openapi.yaml [get]
func (s *Server) openAPIYAML(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openapi.YAML)
}

// swaggerUI serves Swagger UI from the files embedded in the binary
// (swaggo/files), pointed at this server's document.
func (s *Server) swaggerUI() http.HandlerFunc {
	return httpSwagger.Handler(
		httpSwagger.URL("/openapi.json"),
		httpSwagger.DocExpansion("list"),
		httpSwagger.DeepLinking(true),
	)
}

// index serves the demo page; on an empty zoo it says how to add a model.
func (s *Server) index(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.be.models(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return web.Index(w, web.Page{Empty: len(ms) == 0, APIKeyRequired: s.cfg.APIKey != ""})
}

func (s *Server) static() http.HandlerFunc {
	h := http.StripPrefix("/static/", web.Static())
	return h.ServeHTTP
}
