package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"runtime"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/storage"
)

// imageInput is what a classify or features request carried: the encoded
// images, and the model it named in its body (form field or JSON key),
// which only the default-model routes read.
type imageInput struct {
	images [][]byte
	model  string
}

// readImages reads the images of a request in any of its three forms:
// multipart/form-data with repeatable "image" fields, a raw body with an
// image content type, or JSON {"images": [base64...]}.
func (s *Server) readImages(r *http.Request) (imageInput, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" {
		mt, err = "", nil
	}
	if err != nil {
		return imageInput{}, problemf(http.StatusUnsupportedMediaType, "Content-Type %q: %v", ct, err)
	}
	var in imageInput
	switch {
	case mt == "multipart/form-data":
		in, err = s.readMultipart(r)
	case mt == "application/json":
		in, err = s.readJSON(r)
	case mt == "" || strings.HasPrefix(mt, "image/") || mt == "application/octet-stream":
		var data []byte
		data, err = readBody(r.Body, r.ContentLength)
		if len(data) > 0 {
			in.images = [][]byte{data}
		}
	default:
		return imageInput{}, problemf(http.StatusUnsupportedMediaType,
			"Content-Type %q is not accepted: send multipart/form-data (field image), an image/* body, or application/json {\"images\": [base64...]}", mt)
	}
	if err != nil {
		return imageInput{}, err
	}
	if len(in.images) == 0 {
		return imageInput{}, problemf(http.StatusBadRequest, "empty body: no image sent (multipart field \"image\", an image/* body, or JSON {\"images\": [...]})")
	}
	if len(in.images) > s.cfg.MaxImages {
		return imageInput{}, problemf(http.StatusRequestEntityTooLarge, "%d images in one request; the limit is %d", len(in.images), s.cfg.MaxImages)
	}
	return in, nil
}

// readBody reads a request body whose length the client declared as
// size (-1 if it did not). io.ReadAll starts at 512 bytes and doubles,
// copying each time: a 4 MB photo cost 17 MB of allocation and 3.4 ms.
// The declaration is only a hint, trusted up to bodyHint bytes at first
// and then up to growth times what has arrived, so a client that claims
// a large body and sends little makes the server hold at most that; a
// body that comes as declared takes a few allocations, the last of its
// exact size.
func readBody(body io.Reader, size int64) ([]byte, error) {
	const (
		bodyHint = 64 << 10
		growth   = 4
	)
	// One byte more than declared, so that the end is seen without
	// growing.
	buf := make([]byte, 0, min(max(size, 0)+1, bodyHint))
	for {
		if len(buf) == cap(buf) {
			n := int64(growth * cap(buf))
			if size >= int64(len(buf)) && size <= n {
				n = size + 1
			}
			buf = append(make([]byte, 0, n), buf...)
		}
		m, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (s *Server) readMultipart(r *http.Request) (imageInput, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return imageInput{}, problemf(http.StatusBadRequest, "reading multipart body: %v", err)
	}
	var in imageInput
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return imageInput{}, wrapBodyErr("reading multipart body", err)
		}
		switch p.FormName() {
		case "image", "images", "image[]":
			data, err := io.ReadAll(p)
			if err != nil {
				return imageInput{}, wrapBodyErr("reading field image", err)
			}
			if len(data) == 0 {
				return imageInput{}, problemf(http.StatusBadRequest, "image %d (%q) is empty", len(in.images)+1, p.FileName())
			}
			in.images = append(in.images, data)
		case "model":
			data, err := io.ReadAll(io.LimitReader(p, 1024))
			if err != nil {
				return imageInput{}, wrapBodyErr("reading field model", err)
			}
			in.model = strings.TrimSpace(string(data))
		default:
			// Unknown fields (a form's submit button, say) are ignored,
			// but still read so the body is consumed in order.
			if _, err := io.Copy(io.Discard, p); err != nil {
				return imageInput{}, wrapBodyErr("reading multipart body", err)
			}
		}
	}
	return in, nil
}

func (s *Server) readJSON(r *http.Request) (imageInput, error) {
	var req client.ImagesRequest
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&req); err != nil {
		if errors.Is(err, io.EOF) {
			return imageInput{}, nil // empty body, reported by the caller
		}
		return imageInput{}, wrapBodyErr("decoding JSON body", err)
	}
	in := imageInput{model: req.Model}
	for i, s := range req.Images {
		// Data URLs from a browser's FileReader are common; accept them.
		if strings.HasPrefix(s, "data:") {
			if _, after, ok := strings.Cut(s, ","); ok {
				s = after
			}
		}
		data, err := decodeBase64(s)
		if err != nil {
			return imageInput{}, problemf(http.StatusBadRequest, "images[%d] is not base64: %v", i, err)
		}
		if len(data) == 0 {
			return imageInput{}, problemf(http.StatusBadRequest, "images[%d] is empty", i)
		}
		in.images = append(in.images, data)
	}
	return in, nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "-_") {
		return base64.URLEncoding.WithPadding(base64.NoPadding).DecodeString(strings.TrimRight(s, "="))
	}
	return base64.StdEncoding.WithPadding(base64.NoPadding).DecodeString(strings.TrimRight(s, "="))
}

// wrapBodyErr keeps a body-size error (413), a timeout and the server's
// own full disk (507, spooling an upload) recognisable, and makes any
// other read failure the client's: a 400.
func wrapBodyErr(what string, err error) error {
	var mbe *http.MaxBytesError
	var ne net.Error
	if errors.As(err, &mbe) || (errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, storage.ErrNoSpace) {
		return err
	}
	return problemf(http.StatusBadRequest, "%s: %v", what, err)
}

// tensors decodes and preprocesses images as e's manifest says, into one
// NCHW batch. Several images decode at once, up to GOMAXPROCS per request
// and, over all requests, as many as the decode budget's DecodeParallel
// slots and bytes allow. When the manifest fixes the output
// size (a crop or a fixed resize), each image is written straight into its
// place in the batch. Every image must come out the same size; otherwise
// they cannot share a batch. With pooled, x is a buffer from e's
// batcher's inputs, for batcher.infer to give back.
func (s *Server) tensors(ctx context.Context, e *cacheEntry, mode imaging.DecodeMode, images [][]byte) (x []float32, h, w int, pooled bool, err error) {
	fh, fw := e.m.Preprocess.OutputSize()
	fixed := e.m.Preprocess.CropWidth > 0 || (e.m.Preprocess.ResizeShort <= 0 && fh > 0)
	per := 3 * fh * fw
	if fixed {
		// Each image's preprocessing writes every value of its place.
		x = e.b.inputs.get(len(images)*per, per)
	}
	type result struct {
		t    []float32
		h, w int
	}
	res := make([]result, len(images))
	one := func(ctx context.Context, i int) error {
		var dst []float32
		if fixed {
			dst = x[i*per : i*per : (i+1)*per]
		}
		t, th, tw, err := s.tensor(ctx, e, mode, images[i], dst)
		if err != nil {
			return imageErr(i, len(images), err)
		}
		res[i] = result{t, th, tw}
		return nil
	}
	if len(images) == 1 {
		// The usual request: its own goroutine already runs beside the
		// others', and a group would only add a context, a goroutine and
		// a handoff.
		err = one(ctx, 0)
	} else {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(runtime.GOMAXPROCS(0))
		for i := range images {
			g.Go(func() error { return one(gctx, i) })
		}
		err = g.Wait()
	}
	if err != nil {
		if fixed {
			e.b.inputs.put(x)
		}
		return nil, 0, 0, false, err
	}
	h, w = res[0].h, res[0].w
	inPlace := fixed
	for i, r := range res {
		if r.h != h || r.w != w {
			if fixed {
				e.b.inputs.put(x)
			}
			return nil, 0, 0, false, problemf(http.StatusUnprocessableEntity,
				"image %d preprocessed to %dx%d but image 1 to %dx%d; send images of one size, or use a model whose preprocessing crops", i+1, r.h, r.w, h, w)
		}
		inPlace = inPlace && len(r.t) == per && &r.t[0] == &x[i*per]
	}
	if inPlace {
		return x, h, w, true, nil
	}
	// A resize_short model without a crop: the size is the image's.
	joined := make([]float32, 0, len(images)*len(res[0].t))
	for _, r := range res {
		joined = append(joined, r.t...)
	}
	if fixed {
		e.b.inputs.put(x)
	}
	return joined, h, w, false, nil
}

// decodeCost reads an image's header: its pixel count against MaxPixels,
// then the bytes decoding it would take against MaxDecodeBytes, so a
// decompression bomb is refused before anything is allocated for it.
func (s *Server) decodeCost(data []byte) (int64, error) {
	format, w, h, err := imaging.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	if px := int64(w) * int64(h); px > int64(s.cfg.MaxPixels) {
		return 0, problemf(http.StatusRequestEntityTooLarge, "%s of %dx%d = %.1f Mpx exceeds the %.1f Mpx limit",
			strings.ToUpper(format), w, h, float64(px)/1e6, float64(s.cfg.MaxPixels)/1e6)
	}
	cost, err := imaging.DecodeCost(data)
	if err != nil {
		return 0, err
	}
	if cost > s.cfg.MaxDecodeBytes {
		return 0, problemf(http.StatusRequestEntityTooLarge,
			"%s of %dx%d would take %s to decode; the per-image limit is %s (a 16-bit or interlaced image takes several times the bytes of an 8-bit one of the same size)",
			strings.ToUpper(format), w, h, mib(cost), mib(s.cfg.MaxDecodeBytes))
	}
	return cost, nil
}

func mib(n int64) string { return fmt.Sprintf("%d MiB", (n+1<<20-1)>>20) }

// tensor decodes and preprocesses one image into dst's memory. It holds
// the image's estimated decoded bytes from the server's decode budget while
// it decodes; an image whose estimate alone exceeds the per-image limit is
// refused from its header, before anything is allocated for it.
func (s *Server) tensor(ctx context.Context, e *cacheEntry, mode imaging.DecodeMode, data []byte, dst []float32) ([]float32, int, int, error) {
	cost, err := s.decodeCost(data)
	if err != nil {
		return nil, 0, 0, err
	}
	release, err := s.decodeBudget.acquire(ctx, cost)
	if err != nil {
		return nil, 0, 0, err
	}
	defer release()
	// The request's mode, else the manifest's, else the server's.
	mode = mode.Or(imaging.DecodeMode(e.m.Preprocess.Decode)).Or(s.cfg.Decode)
	opt := imaging.DecodeOptions{MaxPixels: s.cfg.MaxPixels, Mode: mode, Parallel: s.decodeBudget.spareCore()}
	return e.pre.PreprocessEncoded(ctx, data, opt, dst)
}

func imageErr(i, n int, err error) error {
	if n == 1 {
		return err
	}
	return fmt.Errorf("image %d of %d: %w", i+1, n, err)
}
