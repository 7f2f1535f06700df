package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/export/paddle"
	"github.com/lcnet/lcnet/internal/atomicfile"
	"github.com/lcnet/lcnet/onnx"
	"github.com/lcnet/lcnet/zoo"
)

// progressAfter is how long a write runs before it shows a progress bar:
// a small model is written before a bar would be worth drawing.
const progressAfter = time.Second

func (a *app) exportCmd() *cobra.Command {
	var store, ref, format, out string
	var opset int
	cmd := &cobra.Command{
		Use:   "export --model NAME[:VERSION] --format onnx|paddle --out FILE|DIR",
		Short: "Export a zoo model to ONNX or back to PaddlePaddle",
		Long: `Export writes a zoo model in another framework's format. Weights are
always written as fp32: an fp16 model is widened, and each value is the
fp16 value exactly, so converting back with --dtype fp16 gives the same
weights.

--format onnx (the default) writes FILE, an ONNX graph with BatchNorm
folded into the convolutions. It takes x [N,3,H,W] (float32, normalized as
the model's preprocessing says; N, H and W are dynamic) and has four
outputs: logits and probabilities [N,classes], features [N,feature_dim] and
pooled [N,channels]. The labels and preprocessing are stored in the
model's metadata_props (lcnet.labels, lcnet.preprocess, lcnet.arch).

--format paddle writes into DIR (created if needed) what PaddleClas gives
a user for the model:
  NAME.pdparams  the dygraph state dict, as paddle.save writes it: a pickle
                 of PaddleClas' parameter names to float32 numpy arrays,
                 BatchNorm unfolded (the zoo keeps it unfolded), fc.weight
                 as [in, out], then StructuredToParameterName@@
  NAME.yaml      a PaddleClas config with the network (Arch), input size
                 and head (Global), the preprocessing (Infer.transforms)
                 and the post-process (Topk, or MultiLabelThreshOutput with
                 the model's threshold)
  labels.txt     the class names as "N name" lines, when the model has them
It then prints the lcnet convert command that reads the three files back
into the same model (with --dtype fp16 and --decode when the model has
them, which PaddleClas' files do not state). A fine-tuned model's lineage
stays in the zoo. A model PaddleClas' files cannot state exactly (a class
name with a tab or line break, a pipeline without a resize) is refused
with the reason, and nothing is written.`,
		Example: `  lcnet export --model PPLCNet_x1_0 --format onnx --out pplcnet_x1_0.onnx
  lcnet export --model textline:2 --format onnx --opset 13 --out textline.onnx

  # Back to PaddleClas, and the round trip into a new zoo model
  lcnet export --model lines --format paddle --out ./lines_paddle
  lcnet convert ./lines_paddle/lines.pdparams -c ./lines_paddle/lines.yaml \
    --labels ./lines_paddle/labels.txt --name lines-again`,
		Args: exactArgs(0, "no positional arguments (use --model and --out)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case ref == "":
				return usagef("--model is required")
			case out == "":
				return usagef("--out is required")
			}
			f := strings.ToLower(format)
			if f != "onnx" && f != "paddle" {
				return usagef("--format %q: want onnx or paddle", format)
			}
			if f == "paddle" && cmd.Flags().Changed("opset") {
				return usagef("--opset is for --format onnx")
			}
			ctx := cmd.Context()
			z, m, err := resolveRef(ctx, store, ref, "--model")
			if err != nil {
				return err
			}
			tensors, err := z.Weights(ctx, m)
			if err != nil {
				return err
			}
			if f == "paddle" {
				return a.exportPaddle(ctx, m, tensors, out)
			}
			return a.exportONNX(m, tensors, out, opset)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&ref, "model", "", "model as NAME or NAME:VERSION (required)")
	fl.StringVar(&format, "format", "onnx", "output format: onnx (a file) or paddle (a directory)")
	fl.StringVar(&out, "out", "", "output file (onnx) or directory (paddle) (required)")
	fl.IntVar(&opset, "opset", 0, fmt.Sprintf("ONNX opset, 13 to 21 (default %d)", onnx.DefaultOpset))
	a.storeFlag(cmd, &store)
	return cmd
}

func (a *app) exportONNX(m zoo.Manifest, tensors map[string]arch.Tensor, out string, opset int) error {
	meta := map[string]string{"lcnet.model": m.Name + ":" + m.Version}
	if b, err := json.Marshal(m.Labels); err == nil && len(m.Labels) > 0 {
		meta["lcnet.labels"] = string(b)
	}
	if b, err := json.Marshal(m.Preprocess); err == nil {
		meta["lcnet.preprocess"] = string(b)
	}
	opts := onnx.Options{Opset: opset, ProducerVersion: versionString(), Metadata: meta}
	// A failed export never leaves a truncated .onnx where a good one was
	// expected.
	if err := atomicfile.Write(out, func(w io.Writer) error { return onnx.Write(w, m.Arch, tensors, opts) }); err != nil {
		return err
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s  %s:%s, %s\n", out, m.Name, m.Version, humanBytes(st.Size()))
	return nil
}

func (a *app) exportPaddle(ctx context.Context, m zoo.Manifest, tensors map[string]arch.Tensor, dir string) error {
	bar := newProgressBar(a.stderr, "writing "+m.Name+".pdparams")
	bar.after = progressAfter
	comment := fmt.Sprintf("PaddleClas config of lcnet model %s:%s, written by lcnet export --format paddle.\n"+
		"Weights: %s.pdparams (fp32, BatchNorm unfolded).", m.Name, m.Version, m.Name)
	files, err := paddle.Write(ctx, dir, m.Name, paddle.Model{
		Arch:       m.Arch,
		Preprocess: m.Preprocess,
		Labels:     m.Labels,
		Threshold:  m.Threshold,
	}, tensors, paddle.Options{Comment: comment, Progress: bar.Update})
	bar.Done()
	if err != nil {
		return err
	}
	st, err := os.Stat(files.Params)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s  %s:%s, %s\n%s\n", files.Params, m.Name, m.Version, humanBytes(st.Size()), files.Config)
	back := []string{"lcnet convert", shellQuote(files.Params), "--config", shellQuote(files.Config)}
	if files.Labels != "" {
		fmt.Fprintln(a.stdout, files.Labels)
		back = append(back, "--labels", shellQuote(files.Labels))
	}
	back = append(back, "--name", m.Name)
	if m.DType == zoo.FP16 {
		back = append(back, "--dtype fp16")
	}
	if m.Preprocess.Decode != "" {
		back = append(back, "--decode", m.Preprocess.Decode)
	}
	fmt.Fprintf(a.stdout, "convert back with: %s\n", strings.Join(back, " "))
	return nil
}

// shellQuote quotes s for a POSIX shell when it holds anything but the
// characters paths usually have.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:+,=@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
