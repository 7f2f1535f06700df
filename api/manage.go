package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/go-chi/chi/v5"

	"github.com/lcnet/lcnet/convert"
	"github.com/lcnet/lcnet/storage"
	"github.com/lcnet/lcnet/zoo"
)

// uploadModel godoc
//
//	@Summary		Upload a model
//	@Description	Creates a new version from an uploaded checkpoint in any format lcnet convert reads: a dygraph .pdparams, a .tar/.tar.gz of an inference directory, or the files of one (repeat the "file" field: inference.json or inference.pdmodel, inference.pdiparams, inference.yml). Needs "Authorization: Bearer KEY" when the server has an API key.
//	@Tags			models
//	@Accept			mpfd
//	@Produce		json
//	@Param			file	formData	file	true	"Checkpoint file; repeat for the files of an inference directory"
//	@Param			name	formData	string	true	"Model name"
//	@Param			version	formData	string	false	"Version to create (default: the next number); \"latest\" is reserved"
//	@Param			dtype	formData	string	false	"Stored weights"	Enums(fp32, fp16)	default(fp32)
//	@Param			config	formData	file	false	"PaddleClas / PaddleX training config (YAML, at most 1 MiB) of a .pdparams: its strides, input size and preprocessing, which the weights cannot show"
//	@Success		201		{object}	client.VersionInfo
//	@Failure		400		{object}	client.Problem
//	@Failure		401		{object}	client.Problem	"no API key sent"
//	@Failure		403		{object}	client.Problem	"wrong API key, or a cross-origin request from an origin not given with --cors-origin"
//	@Failure		409		{object}	client.Problem	"version exists"
//	@Failure		408		{object}	client.Problem	"the body arrived slower than the request deadline allows"
//	@Failure		413		{object}	client.Problem	"body larger than --max-upload"
//	@Failure		422		{object}	client.Problem	"not a checkpoint lcnet can read"
//	@Failure		429		{object}	client.Problem	"--max-uploads uploads already running; see Retry-After"
//	@Failure		500		{object}	client.Problem	"a server fault; instance is urn:lcnet:error:ID, the id of the log line with the cause"
//	@Failure		507		{object}	client.Problem	"the model store is out of space"
//	@Security		BearerAuth
//	@Router			/v1/models [post]
func (s *Server) uploadModel(w http.ResponseWriter, r *http.Request) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return problemf(http.StatusBadRequest, "upload a model as multipart/form-data with fields file and name: %v", err)
	}
	dir, err := s.uploadTempDir()
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	defer os.RemoveAll(dir)
	var opts importOptions
	var files []string
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return wrapBodyErr("reading upload", err)
		}
		switch field := p.FormName(); field {
		case "file":
			// Only the base name is kept: the client's directories mean
			// nothing here and "../" must not escape dir.
			base := filepath.Base(filepath.Clean("/" + strings.ReplaceAll(p.FileName(), `\`, "/")))
			if base == "/" || base == "." {
				base = fmt.Sprintf("upload%d", len(files))
			}
			path := filepath.Join(dir, base)
			if err := saveFile(path, p); err != nil {
				return wrapBodyErr("saving upload "+base, err)
			}
			files = append(files, path)
		case "config":
			if opts.Config != nil {
				return problemf(http.StatusBadRequest, "more than one config field")
			}
			c, err := convert.ReadConfig(p)
			if err != nil {
				var ce *convert.ConfigError
				if errors.As(err, &ce) {
					return &httpError{status: http.StatusUnprocessableEntity, detail: err.Error(), err: err}
				}
				return wrapBodyErr("reading field config", err)
			}
			opts.Config = c
		case "name", "version", "dtype":
			v, err := io.ReadAll(io.LimitReader(p, 256))
			if err != nil {
				return wrapBodyErr("reading field "+field, err)
			}
			val := strings.TrimSpace(string(v))
			switch field {
			case "name":
				opts.Name = val
			case "version":
				opts.Version = val
			case "dtype":
				opts.DType = zoo.DType(strings.ToLower(val))
			}
		default:
			if _, err := io.Copy(io.Discard, p); err != nil {
				return wrapBodyErr("reading upload", err)
			}
		}
	}
	if len(files) == 0 {
		return problemf(http.StatusBadRequest, "no file field: upload the checkpoint as multipart field \"file\"")
	}
	if opts.Name == "" {
		return problemf(http.StatusBadRequest, "no name field: say what to call the model")
	}
	if err := zoo.ValidateName("model name", opts.Name); err != nil {
		return problemf(http.StatusBadRequest, "%v", err)
	}
	if opts.Version != "" {
		if err := zoo.ValidateVersion(opts.Version); err != nil {
			return problemf(http.StatusBadRequest, "%v", err)
		}
	}
	switch opts.DType {
	case "":
		opts.DType = zoo.FP32
	case zoo.FP32, zoo.FP16:
	default:
		return problemf(http.StatusBadRequest, "dtype must be fp32 or fp16, got %q", opts.DType)
	}
	src := files[0]
	if len(files) > 1 {
		src = dir
	}
	m, err := s.be.importFile(r.Context(), src, opts)
	if err != nil {
		return err
	}
	s.resolved.forget(m.Name)
	s.log.Info("model uploaded", "model", m.Name, "version", m.Version, "dtype", m.DType)
	w.Header().Set("Location", "/v1/models/"+url.PathEscape(m.Name)+"?version="+url.QueryEscape(m.Version))
	writeJSON(w, http.StatusCreated, versionOf(m))
	return nil
}

// saveFile copies an uploaded file to path. A full disk is the server's
// problem (507), not the upload's: it is marked with storage.ErrNoSpace.
func saveFile(path string, r io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return noSpace(err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return noSpace(err)
	}
	return noSpace(f.Close())
}

func noSpace(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("saving the upload: %w: %w", storage.ErrNoSpace, err)
	}
	return err
}

// deleteVersion godoc
//
//	@Summary		Delete a model version
//	@Description	Removes the version from the zoo and unloads it; requests already queued on it finish first. Needs "Authorization: Bearer KEY" when the server has an API key.
//	@Tags			models
//	@Param			name	path	string	true	"Model name"
//	@Param			version	path	string	true	"Version"
//	@Success		204
//	@Failure		401	{object}	client.Problem
//	@Failure		400	{object}	client.Problem	"not a valid version string"
//	@Failure		403	{object}	client.Problem	"wrong API key, or a cross-origin request from an origin not given with --cors-origin"
//	@Failure		404	{object}	client.Problem
//	@Security		BearerAuth
//	@Router			/v1/models/{name}/versions/{version} [delete]
func (s *Server) deleteVersion(w http.ResponseWriter, r *http.Request) error {
	name, version := chi.URLParam(r, "name"), chi.URLParam(r, "version")
	if err := s.be.remove(r.Context(), name, version); err != nil {
		return err
	}
	s.resolved.forget(name)
	s.cache.evict(name, version)
	s.log.Info("model version deleted", "model", name, "version", version)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
