package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/finetune"
	"github.com/lcnet/lcnet/train/dataset"
	"github.com/lcnet/lcnet/zoo"
)

// Background jobs run at a lower priority than inference: the backbone
// gets one thread, images go through it a few at a time, and the job
// yields the processor between batches, so classify requests keep the
// other cores and are not queued behind a long batch.
const (
	jobThreads      = 1
	jobExtractBatch = 4
	// jobRetryAfter is what a client told 429 should wait: a small job
	// takes about this long.
	jobRetryAfter = 30 * time.Second
)

// startFinetune godoc
//
//	@Summary		Teach a model new classes
//	@Description	Starts a fine-tuning job: a new classifier head is trained on the base model's frozen backbone and stored, with the base's backbone and preprocessing, as a new version of "name". The "dataset" field is a .zip, .tar or .tar.gz of an ImageFolder (one folder of images per class) or of a labels.csv multi-label set. Answers 202 with Location: /v1/jobs/{id}; poll it for progress. Jobs run one at a time, at a lower priority than inference. Needs "Authorization: Bearer KEY" when the server has an API key.
//	@Tags			training
//	@Accept			mpfd
//	@Produce		json
//	@Param			name			path		string	true	"Base model"
//	@Param			version			query		string	false	"Base version (default: the latest)"
//	@Param			dataset			formData	file	true	"Archive of labelled images"
//	@Param			name			formData	string	true	"Name of the new model"
//	@Param			epochs			formData	int		false	"Passes over the training set"	default(30)
//	@Param			lr				formData	number	false	"Learning rate"	default(0.001)
//	@Param			batch			formData	int		false	"Mini-batch size"	default(32)
//	@Param			weight_decay	formData	number	false	"Weight decay"	default(0)
//	@Param			seed			formData	int		false	"Seed"	default(1)
//	@Param			val_split		formData	number	false	"Fraction held out for validation"	default(0.2)
//	@Param			augment			formData	string	false	"flip, crop or flip,crop"
//	@Param			layer			formData	string	false	"Backbone output to train on: auto trains on both and keeps the better on validation"	Enums(auto, features, pooled)	default(auto)
//	@Param			dtype			formData	string	false	"Stored weights (default: the base's)"	Enums(fp32, fp16)
//	@Success		202				{object}	client.Job
//	@Header			202				{string}	Location	"/v1/jobs/{id}"
//	@Failure		400				{object}	client.Problem
//	@Failure		401				{object}	client.Problem	"no API key sent"
//	@Failure		403				{object}	client.Problem	"wrong API key, or a cross-origin request from an origin not given with --cors-origin"
//	@Failure		404				{object}	client.Problem	"no such base model"
//	@Failure		413				{object}	client.Problem	"body larger than --max-upload"
//	@Failure		422				{object}	client.Problem	"not an archive of labelled images"
//	@Failure		429				{object}	client.Problem	"--max-uploads uploads already running, or the job queue is full; see Retry-After"
//	@Failure		507				{object}	client.Problem	"no space left to spool the data set"
//	@Security		BearerAuth
//	@Router			/v1/models/{name}/finetune [post]
func (s *Server) startFinetune(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Zoo == nil {
		return problemf(http.StatusNotImplemented, "fine-tuning needs a server backed by a model zoo")
	}
	baseName, baseVersion := chi.URLParam(r, "name"), r.URL.Query().Get("version")
	base, err := s.be.resolve(r.Context(), baseName, baseVersion)
	if err != nil {
		return err
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return problemf(http.StatusBadRequest, "send the data set as multipart/form-data with fields dataset and name: %v", err)
	}
	dir, err := os.MkdirTemp(s.cfg.TempDir, "lcnet-finetune-*")
	if err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()
	upload := filepath.Join(dir, "upload")
	fields := map[string]string{}
	haveData := false
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return wrapBodyErr("reading upload", err)
		}
		field := p.FormName()
		switch field {
		case "dataset":
			// Spooled to disk: an archive of images is often larger than
			// the memory the server should spend on one request.
			if err := saveFile(upload, p); err != nil {
				return wrapBodyErr("saving the data set", err)
			}
			haveData = true
		case "name", "epochs", "lr", "batch", "weight_decay", "seed", "val_split", "augment", "layer", "dtype":
			v, err := io.ReadAll(io.LimitReader(p, 256))
			if err != nil {
				return wrapBodyErr("reading field "+field, err)
			}
			fields[field] = strings.TrimSpace(string(v))
		default:
			if _, err := io.Copy(io.Discard, p); err != nil {
				return wrapBodyErr("reading upload", err)
			}
		}
	}
	if !haveData {
		return problemf(http.StatusBadRequest, "no dataset field: upload a .zip, .tar or .tar.gz of one folder of images per class as field \"dataset\"")
	}
	opt, err := finetuneOptions(fields)
	if err != nil {
		return err
	}
	set, _, err := finetune.OpenArchive(r.Context(), upload, mkdir(dir, "data"), dataset.Limits{})
	if err != nil {
		return datasetProblem(err)
	}
	os.Remove(upload)
	opt.Threads, opt.Yield, opt.ExtractBatch, opt.CacheDir = jobThreads, true, jobExtractBatch, dir
	ref := base.Name + ":" + base.Version
	state := client.Job{Base: ref, Name: opt.Name, Images: len(set.Items), ValAccuracy: -1, ValLoss: -1}
	j, err := s.jobs.add(state, dir, func(ctx context.Context, j *bgJob) error {
		opt.Progress = func(p finetune.Progress) {
			j.update(func(st *client.Job) {
				st.Stage, st.Done, st.Total = p.Stage, p.Done, p.Total
				if p.Stage == finetune.StageTrain {
					e := p.Epoch
					st.Layer, st.Epoch, st.TrainLoss, st.TrainAccuracy, st.ValAccuracy, st.ValLoss = p.Layer, e.Epoch, e.TrainLoss, e.TrainAccuracy, e.ValAccuracy, e.ValLoss
				}
			})
		}
		res, err := finetune.Run(ctx, s.cfg.Zoo, ref, set, nil, opt)
		if err != nil {
			return err
		}
		s.resolved.forget(res.Manifest.Name)
		j.update(func(st *client.Job) {
			st.Model = res.Manifest.Name + ":" + res.Manifest.Version
			st.Skipped = res.Skipped
			st.TrainAccuracy, st.ValAccuracy = res.Head.Best.TrainAccuracy, res.Head.Best.ValAccuracy
		})
		s.log.Info("model fine-tuned", "model", res.Manifest.Name, "version", res.Manifest.Version, "base", ref,
			"val_accuracy", res.Head.Best.ValAccuracy, "extract", res.ExtractTime, "train", res.TrainTime)
		return nil
	})
	if errors.Is(err, errQueueFull) {
		return &httpError{status: http.StatusTooManyRequests, retryAfter: jobRetryAfter,
			detail: fmt.Sprintf("%d fine-tuning jobs are already waiting; try again later", cap(s.jobs.waiting))}
	}
	if err != nil {
		return err
	}
	keep = true
	st := j.snapshot()
	w.Header().Set("Location", "/v1/jobs/"+st.ID)
	writeJSON(w, http.StatusAccepted, st)
	return nil
}

func mkdir(parent, name string) string {
	p := filepath.Join(parent, name)
	_ = os.Mkdir(p, 0o700) // a failure shows when extracting into it
	return p
}

// finetuneOptions reads the form fields; a malformed one is a 400 naming it.
func finetuneOptions(f map[string]string) (finetune.Options, error) {
	opt := finetune.Options{Name: f["name"], Layer: f["layer"], DType: zoo.DType(strings.ToLower(f["dtype"])), ValSplit: 0.2}
	if opt.Name == "" {
		return opt, problemf(http.StatusBadRequest, "no name field: say what to call the new model")
	}
	if a := f["augment"]; a != "" {
		opt.Augment = strings.Split(a, ",")
	}
	bad := func(field string, _ error) error {
		return problemf(http.StatusBadRequest, "field %s: %q is not a number", field, f[field])
	}
	var err error
	for field, dst := range map[string]*int{"epochs": &opt.Head.Epochs, "batch": &opt.Head.Batch} {
		if v := f[field]; v != "" {
			if *dst, err = strconv.Atoi(v); err != nil {
				return opt, bad(field, err)
			}
		}
	}
	for field, dst := range map[string]*float64{"lr": &opt.Head.LR, "weight_decay": &opt.Head.WeightDecay, "val_split": &opt.ValSplit} {
		if v := f[field]; v != "" {
			if *dst, err = strconv.ParseFloat(v, 64); err != nil {
				return opt, bad(field, err)
			}
		}
	}
	if v := f["seed"]; v != "" {
		if opt.Head.Seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			return opt, bad("seed", err)
		}
	}
	switch opt.DType {
	case "", zoo.FP32, zoo.FP16:
	default:
		return opt, problemf(http.StatusBadRequest, "dtype must be fp32 or fp16, got %q", opt.DType)
	}
	if _, err := opt.WithDefaults(); err != nil {
		return opt, problemf(http.StatusBadRequest, "%v", err)
	}
	return opt, nil
}

// datasetProblem maps what can be wrong with an uploaded data set.
func datasetProblem(err error) error {
	switch {
	case errors.Is(err, dataset.ErrLimit):
		return &httpError{status: http.StatusRequestEntityTooLarge, detail: err.Error(), err: err}
	case errors.Is(err, dataset.ErrArchive), errors.Is(err, dataset.ErrUnsafe),
		errors.Is(err, dataset.ErrNoImages), errors.Is(err, dataset.ErrEmptyClass),
		errors.Is(err, dataset.ErrFormat), errors.Is(err, dataset.ErrMissing):
		return &httpError{status: http.StatusUnprocessableEntity, detail: err.Error(), err: err}
	}
	return err
}

// getJob godoc
//
//	@Summary		Report a fine-tuning job
//	@Description	The job's state (queued, running, succeeded, failed, canceled), its stage and progress, the last epoch's loss and accuracies, the model it created or the error that stopped it. Finished jobs stay visible for the last 100 jobs of this replica.
//	@Tags			training
//	@Produce		json
//	@Param			id	path		string	true	"Job id"
//	@Success		200	{object}	client.Job
//	@Failure		404	{object}	client.Problem
//	@Router			/v1/jobs/{id} [get]
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	j, err := s.findJob(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, j.snapshot())
	return nil
}

// cancelJob godoc
//
//	@Summary		Cancel a fine-tuning job
//	@Description	Stops a queued or running job; nothing is stored. Answers with the job, whose state becomes canceled once it has stopped. Needs "Authorization: Bearer KEY" when the server has an API key.
//	@Tags			training
//	@Produce		json
//	@Param			id	path		string	true	"Job id"
//	@Success		202	{object}	client.Job
//	@Failure		401	{object}	client.Problem
//	@Failure		403	{object}	client.Problem	"wrong API key, or a cross-origin request from an origin not given with --cors-origin"
//	@Failure		404	{object}	client.Problem
//	@Failure		409	{object}	client.Problem	"the job has already finished"
//	@Security		BearerAuth
//	@Router			/v1/jobs/{id} [delete]
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) error {
	j, err := s.findJob(r)
	if err != nil {
		return err
	}
	switch st := j.snapshot(); st.State {
	case client.JobSucceeded, client.JobFailed, client.JobCanceled:
		return problemf(http.StatusConflict, "job %s has already %s", st.ID, st.State)
	}
	s.jobs.cancelJob(j)
	writeJSON(w, http.StatusAccepted, j.snapshot())
	return nil
}

func (s *Server) findJob(r *http.Request) (*bgJob, error) {
	id := chi.URLParam(r, "id")
	j, ok := s.jobs.get(id)
	if !ok {
		return nil, problemf(http.StatusNotFound, "no job %q on this replica (finished jobs are kept for the last %d)", id, keptJobs)
	}
	return j, nil
}
