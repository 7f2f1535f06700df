package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/zoo"
)

// errNonFinite is a network output holding NaN or ±Inf. JSON has no
// literal for them, and a client cannot tell a NaN score from a real one
// anyway, so such an answer is a 422 naming the output and the image
// rather than a body with nulls or strings in place of numbers.
var errNonFinite = errors.New("the model produced non-finite values")

// checkFinite fails with a 422 at the first NaN or Inf in data, rows of
// dim values, one row per image.
func checkFinite(m zoo.Manifest, output string, data []float32, dim int) error {
	for i, v := range data {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return &httpError{status: http.StatusUnprocessableEntity, err: errNonFinite,
				detail: fmt.Sprintf("model %s:%s produced a non-finite value (%v) in output %q for image %d of %d; the input or the weights drive the network out of range",
					m.Name, m.Version, v, output, i/max(dim, 1)+1, len(data)/max(dim, 1))}
		}
	}
	return nil
}

// writeOK encodes v in full before anything is sent: an encoder error
// after the header is out would leave the client a 200 with an empty
// body.
func writeOK(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding the answer: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// writeV2Infer sends a v2 inference answer once every output is finite,
// those in the JSON and those sent as binary after it: a NaN fits the
// binary encoding, but it is as wrong there as anywhere.
func writeV2Infer(w http.ResponseWriter, m zoo.Manifest, resp client.V2InferResponse, binOut [][]float32) error {
	bin := 0
	for _, o := range resp.Outputs {
		dim := 1
		if len(o.Shape) == 2 {
			dim = int(o.Shape[1])
		}
		data := o.Data
		if o.Parameters != nil && o.Parameters.BinaryDataSize > 0 && bin < len(binOut) {
			data = binOut[bin]
			bin++
		}
		if err := checkFinite(m, o.Name, data, dim); err != nil {
			return err
		}
	}
	return writeInferResponse(w, resp, binOut)
}
