package api

import (
	"github.com/lcnet/lcnet/api/client"

	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// inferHeaderLength is the binary tensor data extension's header: the
// length of the JSON at the start of a body that binary tensors follow.
const inferHeaderLength = "Inference-Header-Content-Length"

// splitInferBody cuts a request body into its JSON header and the binary
// data after it, as the Inference-Header-Content-Length value says.
func splitInferBody(body []byte, headerLen string) (header, bin []byte, err error) {
	if headerLen == "" {
		return body, nil, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(headerLen), 10, 64)
	if err != nil || n < 0 {
		return nil, nil, problemf(http.StatusBadRequest, "%s %q is not a byte count", inferHeaderLength, headerLen)
	}
	if n > int64(len(body)) {
		return nil, nil, problemf(http.StatusBadRequest, "%s is %d but the body has only %d bytes", inferHeaderLength, n, len(body))
	}
	return body[:n], body[n:], nil
}

// elemSize is the bytes one value of a datatype takes as binary.
func elemSize(datatype string) int {
	if datatype == "FP16" {
		return 2
	}
	return 4
}

// inputValues reads the want values of an input, from its JSON data or
// from bin when it declares binary_data_size. Every size is checked
// against what arrived before anything is allocated, so a small body
// cannot make the server reserve what a large shape declares.
func inputValues(in v2InputWire, bin []byte, want int) ([]float32, error) {
	if in.Parameters != nil && in.Parameters.BinaryDataSize != nil {
		size := *in.Parameters.BinaryDataSize
		if len(in.Data) != 0 && string(bytes.TrimSpace(in.Data)) != "null" {
			return nil, fmt.Errorf("has both data and binary_data_size; send one")
		}
		need := int64(want) * int64(elemSize(in.Datatype))
		if size != need {
			return nil, fmt.Errorf("shape %v of %s needs %d bytes of binary data, binary_data_size is %d", in.Shape, in.Datatype, need, size)
		}
		if size != int64(len(bin)) {
			return nil, fmt.Errorf("binary_data_size is %d but %d bytes follow the JSON header", size, len(bin))
		}
		return decodeBinary(bin, in.Datatype), nil
	}
	if len(bin) != 0 {
		return nil, fmt.Errorf("%d bytes follow the JSON header but the input declares no binary_data_size", len(bin))
	}
	// The shortest JSON for k values is "[0,0,...,0]": 2k+1 bytes.
	if have := len(in.Data); int64(want) > int64(have)/2 {
		return nil, fmt.Errorf("shape %v needs %d values, data has %d bytes, too few to hold them", in.Shape, want, have)
	}
	return parseFloats(in.Data, want)
}

// decodeBinary widens little-endian FP32 or FP16 values to float32.
func decodeBinary(b []byte, datatype string) []float32 {
	if datatype == "FP16" {
		out := make([]float32, len(b)/2)
		for i := range out {
			out[i] = halfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return out
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// halfToFloat32 widens an IEEE 754 binary16 value exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	v := float32(mant) / (1 << 24) // subnormal: mant * 2^-24
	if sign != 0 {
		v = -v
	}
	return v
}

// writeInferResponse answers with JSON, or, when some outputs are binary,
// with the JSON header followed by their values (little-endian FP32) as
// the binary tensor data extension lays out.
func writeInferResponse(w http.ResponseWriter, resp client.V2InferResponse, binOut [][]float32) error {
	if len(binOut) == 0 {
		return writeOK(w, resp)
	}
	header, err := json.Marshal(resp)
	if err != nil {
		return fmt.Errorf("encoding the answer: %w", err)
	}
	size := len(header)
	for _, v := range binOut {
		size += 4 * len(v)
	}
	body := make([]byte, len(header), size)
	copy(body, header)
	for _, v := range binOut {
		for _, f := range v {
			body = binary.LittleEndian.AppendUint32(body, math.Float32bits(f))
		}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(inferHeaderLength, strconv.Itoa(len(header)))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}
