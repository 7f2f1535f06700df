package api

import (
	"github.com/lcnet/lcnet/api/client"

	"net/http"
	"runtime/debug"
)

// v2ServerMetadata godoc
//
//	@Summary		Server metadata (KServe v2)
//	@Description	The server's name, version and the protocol extensions it supports; Triton's clients read it first.
//	@Tags			v2
//	@Produce		json
//	@Success		200	{object}	client.V2ServerMetadata
//	@Router			/v2 [get]
func (s *Server) v2ServerMetadata(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, client.V2ServerMetadata{
		Name:       "lcnet",
		Version:    buildVersion(),
		Extensions: []string{"binary_tensor_data"},
	})
	return nil
}

// buildVersion is the main module's version as the Go toolchain stamped
// it: a tag for an installed release, "(devel)" for a local build.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
