package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/nn"
	"github.com/lcnet/lcnet/zoo"
)

// prediction and imageResult are classify's --json output, per image.
type prediction struct {
	ClassID int     `json:"class_id"`
	Label   string  `json:"label"`
	Score   float64 `json:"score"`
}

type imageResult struct {
	Image       string       `json:"image"`
	Predictions []prediction `json:"predictions"`
}

type classifyOutput struct {
	Model   string        `json:"model"`
	Version string        `json:"version"`
	Results []imageResult `json:"results"`
}

func (a *app) classifyCmd() *cobra.Command {
	var (
		store, ref, server, apiKey, decode string
		topK, threads                      int
		asJSON                             bool
	)
	cmd := &cobra.Command{
		Use:   "classify IMAGE... --model NAME[:VERSION]",
		Short: "Classify images with a zoo model, locally or through a server",
		Long: `Classify decodes each image (JPEG, PNG, GIF, BMP, WebP or TIFF, with EXIF
orientation applied), preprocesses it as the model's manifest says, and
prints the top-k classes with their probabilities.

Without --server the model runs in this process from the local store. With
--server URL the images are sent to a running 'lcnet serve' instead (its
API key from --api-key or $LCNET_API_KEY).`,
		Example: `  lcnet classify cat.jpg dog.png --model PPLCNet_x1_0
  lcnet classify scan.png --model doc-ori:2 --top-k 1 --json
  lcnet classify line.png --model textline --server http://127.0.0.1:8080`,
		Args: minArgs(1, "at least one IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ref == "" {
				return usagef("--model is required")
			}
			if topK < 1 {
				return usagef("--top-k must be at least 1, got %d", topK)
			}
			mode, err := parseDecode(decode)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var out classifyOutput
			if server != "" {
				out, err = classifyRemote(ctx, server, apiKey, ref, mode, args, topK)
			} else {
				out, err = classifyLocal(ctx, store, ref, mode, args, topK, threads)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, out)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "IMAGE\tRANK\tCLASS\tLABEL\tSCORE")
			for _, r := range out.Results {
				for i, p := range r.Predictions {
					fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%.4f\n", r.Image, i+1, p.ClassID, p.Label, p.Score)
				}
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&ref, "model", a.getenv("LCNET_DEFAULT_MODEL"), "model as NAME or NAME:VERSION (env LCNET_DEFAULT_MODEL)")
	f.IntVarP(&topK, "top-k", "k", 5, "classes to print per image")
	f.StringVar(&server, "server", "", "classify through a running lcnet server at this URL")
	f.StringVar(&apiKey, "api-key", a.getenv("LCNET_API_KEY"), "API key for --server (env LCNET_API_KEY)")
	f.IntVar(&threads, "threads", 0, "worker threads when running locally (default: all cores)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.StringVar(&decode, "decode", "", "JPEG decoding: exact or fast (default: the model's manifest, else exact; with --server, the server's)")
	a.storeFlag(cmd, &store)
	return cmd
}

func classifyLocal(ctx context.Context, store, ref string, mode imaging.DecodeMode, images []string, topK, threads int) (classifyOutput, error) {
	m, model, err := loadModel(ctx, store, ref, nn.Options{Threads: threads})
	if err != nil {
		return classifyOutput{}, err
	}
	defer model.Close()
	pre, err := imaging.NewPreprocessor(m.Preprocess)
	if err != nil {
		return classifyOutput{}, fmt.Errorf("model %s:%s: %w", m.Name, m.Version, err)
	}
	out := classifyOutput{Model: m.Name, Version: m.Version}
	var buf []float32
	for _, path := range images {
		data, err := os.ReadFile(path)
		if err != nil {
			return classifyOutput{}, err
		}
		x, h, w, err := pre.PreprocessEncoded(data, imaging.DecodeOptions{Mode: mode}, buf)
		if err != nil {
			return classifyOutput{}, fmt.Errorf("%s: %w", path, err)
		}
		buf = x
		res, err := model.Infer(ctx, x, 1, h, w)
		if err != nil {
			return classifyOutput{}, fmt.Errorf("%s: %w", path, err)
		}
		out.Results = append(out.Results, imageResult{Image: path, Predictions: topPredictions(res.Probabilities[:res.Classes], m.Labels, topK)})
	}
	return out, nil
}

// topPredictions returns the k most probable classes, highest first (ties
// by class id, so output is stable).
func topPredictions(probs []float32, labels []string, k int) []prediction {
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	k = min(k, len(idx))
	ps := make([]prediction, k)
	for i, c := range idx[:k] {
		ps[i] = prediction{ClassID: c, Label: label(labels, c), Score: float64(probs[c])}
	}
	return ps
}

// classifyRemote sends the images in one request to a running server,
// through api/client (the wire types the server uses).
func classifyRemote(ctx context.Context, server, apiKey, ref string, mode imaging.DecodeMode, images []string, topK int) (classifyOutput, error) {
	name, version, err := zoo.ParseRef(ref)
	if err != nil {
		return classifyOutput{}, usageError{fmt.Errorf("--model: %w", err)}
	}
	c, err := client.New(server, &http.Client{Timeout: 5 * time.Minute})
	if err != nil {
		return classifyOutput{}, usageError{fmt.Errorf("--server: %w", err)}
	}
	c.APIKey, c.Decode = apiKey, string(mode)
	bodies := make([][]byte, len(images))
	for i, path := range images {
		if bodies[i], err = os.ReadFile(path); err != nil {
			return classifyOutput{}, err
		}
	}
	if version == "latest" {
		version = ""
	}
	resp, err := c.Classify(ctx, name, version, bodies, topK)
	if err != nil {
		return classifyOutput{}, fmt.Errorf("%s: %w", server, err)
	}
	if len(resp.Results) != len(images) {
		return classifyOutput{}, fmt.Errorf("%s: %d results for %d images", server, len(resp.Results), len(images))
	}
	out := classifyOutput{Model: resp.Model, Version: resp.Version}
	for i, r := range resp.Results {
		ir := imageResult{Image: images[i]}
		for _, p := range r.Predictions {
			ir.Predictions = append(ir.Predictions, prediction{ClassID: p.ClassID, Label: p.Label, Score: p.Score})
		}
		out.Results = append(out.Results, ir)
	}
	return out, nil
}
