// Package pull downloads the official PP-LCNet releases and imports them
// into the zoo: a catalog of known downloads, a resumable HTTP fetcher and
// a Puller that turns concurrent requests for one model into one download.
package pull

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/lcnet/lcnet/arch"
)

// Kind says what a download holds, which decides how it is converted.
type Kind string

const (
	// Pdparams is a PaddleClas dygraph checkpoint (ImageNet, 1000 classes,
	// no labels or preprocessing inside: the ImageNet defaults apply).
	Pdparams Kind = "pdparams"
	// InferenceTar is a PaddleX inference model packed as a tar
	// (inference.json + inference.pdiparams + inference.yml).
	InferenceTar Kind = "inference-tar"
	// PULCTar is a PaddleClas PULC inference model: a Paddle 2 program
	// (inference.pdmodel + inference.pdiparams) without inference.yml, so
	// its labels and preprocessing come from the entry.
	PULCTar Kind = "pulc-tar"
)

// The official download sites. A mirror replaces these bases: it serves
// the same file names (Entry.File) under its own URL.
const (
	paddleClasBase = "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/legendary_models/"
	paddleXBase    = "https://paddle-model-ecology.bj.bcebos.com/paddlex/official_inference_model/paddle3.0.0/"
	pulcBase       = "https://paddleclas.bj.bcebos.com/models/PULC/inference/"
)

// Entry is one downloadable model.
type Entry struct {
	// Name is how users ask for the model and the zoo name it gets.
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// URL is the official download address.
	URL         string `json:"url"`
	Description string `json:"description"`
	Classes     int    `json:"classes"`
	// ImageNet entries carry no labels of their own; the Puller gives them
	// the 1000 ImageNet class names.
	ImageNet bool `json:"imagenet"`
	// Size and SHA256 are checked after the download when known (0 / "").
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// InputHeight x InputWidth is the size the model takes.
	InputHeight int `json:"input_height"`
	InputWidth  int `json:"input_width"`
	// MultiLabel marks a sigmoid head: every class is scored on its own.
	MultiLabel bool `json:"multi_label,omitempty"`
	// Labels name the classes when the download does not (PULC tars;
	// PaddleX attribute models, whose inference.yml has no Topk list).
	Labels []string `json:"labels,omitempty"`
	// Preprocess is the pipeline of a download without inference.yml,
	// from PaddleClas' deploy/configs/PULC/<name>/inference_<name>.yaml.
	Preprocess *arch.Preprocess `json:"preprocess,omitempty"`
}

// File is the file name the entry downloads to (and is served as by a mirror).
func (e Entry) File() string { return path.Base(e.URL) }

// URLFrom is the entry's address on a mirror (the file name appended to
// the mirror's base URL), or the official URL when mirror is empty.
func (e Entry) URLFrom(mirror string) string {
	if mirror == "" {
		return e.URL
	}
	return strings.TrimRight(mirror, "/") + "/" + e.File()
}

// catalog lists the official releases, from the PaddleClas model zoo
// (dygraph legendary_models; SSLD-distilled weights exist only for the
// x0_5, x1_0 and x2_5 scales) and PaddleX's official inference models.
// Sizes and checksums are not published next to these files, so none are
// recorded: Content-Length is still checked on every download.
func catalog() []Entry {
	var es []Entry
	top1 := map[string]string{
		"0_25": "51.86", "0_35": "58.09", "0_5": "63.14", "0_75": "68.18",
		"1_0": "71.32", "1_5": "73.71", "2_0": "75.18", "2_5": "76.60",
	}
	for _, s := range []string{"0_25", "0_35", "0_5", "0_75", "1_0", "1_5", "2_0", "2_5"} {
		es = append(es, Entry{
			Name:        "PPLCNet_x" + s,
			Kind:        Pdparams,
			URL:         paddleClasBase + "PPLCNet_x" + s + "_pretrained.pdparams",
			Description: fmt.Sprintf("ImageNet-1k classifier, scale %s (top-1 %s%%)", strings.ReplaceAll(s, "_", "."), top1[s]),
			Classes:     1000,
			ImageNet:    true,
			InputHeight: 224,
			InputWidth:  224,
		})
	}
	ssld := map[string]string{"0_5": "66.10", "1_0": "74.39", "2_5": "80.82"}
	for _, s := range []string{"0_5", "1_0", "2_5"} {
		es = append(es, Entry{
			Name:        "PPLCNet_x" + s + "_ssld",
			Kind:        Pdparams,
			URL:         paddleClasBase + "PPLCNet_x" + s + "_ssld_pretrained.pdparams",
			Description: fmt.Sprintf("ImageNet-1k classifier, scale %s, SSLD-distilled (top-1 %s%%)", strings.ReplaceAll(s, "_", "."), ssld[s]),
			Classes:     1000,
			ImageNet:    true,
			InputHeight: 224,
			InputWidth:  224,
		})
	}
	for _, x := range []struct {
		name, desc string
		classes    int
		h, w       int
		multi      bool
		labels     []string
	}{
		{"PP-LCNet_x0_25_textline_ori", "text-line orientation (0 or 180 degrees), 80x160 input", 2, 80, 160, false, nil},
		{"PP-LCNet_x1_0_textline_ori", "text-line orientation (0 or 180 degrees), 80x160 input", 2, 80, 160, false, nil},
		{"PP-LCNet_x1_0_doc_ori", "document orientation (0, 90, 180 or 270 degrees)", 4, 224, 224, false, nil},
		{"PP-LCNet_x1_0_table_cls", "table type (wired or wireless)", 2, 224, 224, false, nil},
		{"PP-LCNet_x1_0_pedestrian_attribute", "pedestrian attributes (PA-100K), multi-label", 26, 256, 192, true, pedestrianAttributes},
		{"PP-LCNet_x1_0_vehicle_attribute", "vehicle color and type (VeRi), multi-label", 19, 192, 256, true, vehicleAttributes},
	} {
		es = append(es, Entry{
			Name:        x.name,
			Kind:        InferenceTar,
			URL:         paddleXBase + x.name + "_infer.tar",
			Description: x.desc,
			Classes:     x.classes,
			InputHeight: x.h,
			InputWidth:  x.w,
			MultiLabel:  x.multi,
			Labels:      x.labels,
		})
	}
	return append(es, pulcEntries()...)
}

// Catalog returns every known download, sorted by name.
func Catalog() []Entry {
	es := catalog()
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
	return es
}

// ErrUnknownModel is returned (wrapped) by Lookup for a name not in the catalog.
var ErrUnknownModel = errors.New("unknown model")

// normalize folds the spellings people use for the same model:
// PP-LCNet_x1_0, PPLCNet_x1_0, pplcnet_x1_0.
func normalize(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, "-", ""))
}

// Lookup finds an entry by name, ignoring case and the hyphen of "PP-LCNet".
// The error for an unknown name lists every known one.
func Lookup(name string) (Entry, error) {
	want := normalize(name)
	es := Catalog()
	for _, e := range es {
		if normalize(e.Name) == want {
			return e, nil
		}
	}
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.Name
	}
	return Entry{}, fmt.Errorf("%w %q; known models: %s", ErrUnknownModel, name, strings.Join(names, ", "))
}
