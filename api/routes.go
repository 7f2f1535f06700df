package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// routes is the table of contents of the API.
func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	// GetHead answers HEAD with the GET route; net/http drops the body.
	r.Use(middleware.RequestID, s.met.instrument, s.logRequests, s.recoverer,
		s.closeWhenStopping, s.checkHost, s.cors, middleware.GetHead)
	r.NotFound(s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return problemf(http.StatusNotFound, "no route %s %s; see /docs", r.Method, r.URL.Path)
	}))
	r.MethodNotAllowed(s.handle(func(w http.ResponseWriter, req *http.Request) error {
		w.Header().Set("Allow", allowed(r, req.URL.Path))
		return problemf(http.StatusMethodNotAllowed, "%s is not allowed on %s; see /docs", req.Method, req.URL.Path)
	}))

	r.Group(func(r chi.Router) {
		r.Use(deadline(s.cfg.RequestTimeout, s.cfg.WriteTimeout))

		// Operations.
		r.Get("/healthz", s.handle(s.healthz))
		r.Get("/readyz", s.handle(s.readyz))
		r.Get("/metrics", s.metrics)

		// Documentation and the demo page.
		r.Get("/openapi.json", s.openAPIJSON)
		r.Get("/openapi.yaml", s.openAPIYAML)
		r.Get("/docs", redirect("/docs/index.html"))
		r.Get("/docs/*", s.swaggerUI())
		r.Get("/", s.handle(s.index))
		r.Get("/static/*", s.static())

		r.Group(func(r chi.Router) {
			r.Use(s.maxBody(s.cfg.MaxBodyBytes))

			// lcnet's own API.
			r.Get("/v1/models", s.handle(s.listModels))
			r.Get("/v1/models/{name}", s.handle(s.getModel))
			r.Post("/v1/models/{name}/classify", s.handle(s.classifyNamed))
			r.Post("/v1/models/{name}/features", s.handle(s.featuresNamed))
			r.With(s.sameOrigin, s.requireKey).Delete("/v1/models/{name}/versions/{version}", s.handle(s.deleteVersion))
			r.Post("/classify", s.handle(s.classifyDefault))
			r.Post("/features", s.handle(s.featuresDefault))

			// KServe / Triton v2 inference protocol.
			r.Get("/v2", s.handle(s.v2ServerMetadata))
			r.Get("/v2/health/live", s.handle(s.v2Live))
			r.Get("/v2/health/ready", s.handle(s.v2Ready))
			r.Get("/v2/models/{name}", s.handle(s.v2Metadata))
			r.Get("/v2/models/{name}/ready", s.handle(s.v2ModelReady))
			r.Post("/v2/models/{name}/infer", s.handle(s.v2Infer))
			r.Get("/v2/models/{name}/versions/{version}", s.handle(s.v2MetadataVersion))
			r.Get("/v2/models/{name}/versions/{version}/ready", s.handle(s.v2ModelVersionReady))
			r.Post("/v2/models/{name}/versions/{version}/infer", s.handle(s.v2InferVersion))
		})
	})

	// Uploads are large and convert for a while.
	r.With(deadline(s.cfg.UploadTimeout, s.cfg.WriteTimeout), s.sameOrigin, s.requireKey, s.limitUploads,
		s.maxBody(s.cfg.MaxUploadBytes)).
		Post("/v1/models", s.handle(s.uploadModel))

	// Fine-tuning: the upload is spooled and extracted in the request, the
	// training runs as a background job.
	r.With(deadline(s.cfg.UploadTimeout, s.cfg.WriteTimeout), s.sameOrigin, s.requireKey, s.limitUploads,
		s.maxBody(s.cfg.MaxUploadBytes)).
		Post("/v1/models/{name}/finetune", s.handle(s.startFinetune))
	r.With(deadline(s.cfg.RequestTimeout, s.cfg.WriteTimeout)).Get("/v1/jobs/{id}", s.handle(s.getJob))
	r.With(deadline(s.cfg.RequestTimeout, s.cfg.WriteTimeout), s.sameOrigin, s.requireKey).Delete("/v1/jobs/{id}", s.handle(s.cancelJob))
	return r
}

func redirect(to string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, to, http.StatusMovedPermanently)
	}
}
