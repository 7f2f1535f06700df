package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lcnet/lcnet/internal/npy"
	"github.com/lcnet/lcnet/nn"
)

func (a *app) inferCmd() *cobra.Command {
	var store, ref, input, outDir string
	var threads int
	var half bool
	cmd := &cobra.Command{
		Use:   "infer --model NAME[:VERSION] --input X.npy --out DIR",
		Short: "Run a model on a normalized input tensor and write its outputs as .npy",
		Long: `Infer runs the network on an already-preprocessed input: a float32 (or
float64) .npy array of shape [N, 3, H, W], normalized the way the model
expects. No image decoding or resizing happens, which makes it the tool for
comparing lcnet with PaddlePaddle or ONNX Runtime number by number.

It writes four arrays into DIR (created if needed):
  logits.npy         [N, classes]       the FC output
  probabilities.npy  [N, classes]       softmax of the logits (their sigmoids
                                        on a multi-label model)
  features.npy       [N, feature_dim]   hardswish(last_conv(GAP)) (the pooled
                                        vector when the model has no last conv)
  pooled.npy         [N, channels]      global average pool of the last block`,
		Example: `  lcnet infer --model PPLCNet_x1_0 --input batch.npy --out ./out
  python -c "import numpy as np; print(np.load('out/probabilities.npy').argmax(1))"`,
		Args: exactArgs(0, "no positional arguments (use --input)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case ref == "":
				return usagef("--model is required")
			case input == "":
				return usagef("--input is required")
			case outDir == "":
				return usagef("--out is required")
			}
			x, err := npy.ReadFile(input)
			if err != nil {
				return err // npy names the file
			}
			if len(x.Shape) != 4 || x.Shape[1] != 3 {
				return fmt.Errorf("%s: shape %v, want [N 3 H W]", input, x.Shape)
			}
			ctx := cmd.Context()
			_, model, err := loadModel(ctx, store, ref, nn.Options{Threads: threads, Half: half})
			if err != nil {
				return err
			}
			defer model.Close()
			out, err := model.Infer(ctx, x.Data, x.Shape[0], x.Shape[2], x.Shape[3])
			if err != nil {
				return err
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return err
			}
			n := out.N
			for _, o := range []struct {
				file string
				dim  int
				data []float32
			}{
				{"logits.npy", out.Classes, out.Logits},
				{"probabilities.npy", out.Classes, out.Probabilities},
				{"features.npy", out.FeatureDim, out.Features},
				{"pooled.npy", out.PooledDim, out.Pooled},
			} {
				p := filepath.Join(outDir, o.file)
				if err := npy.WriteFile(p, &npy.Array{Shape: []int{n, o.dim}, Data: o.data}); err != nil {
					return fmt.Errorf("writing %s: %w", p, err)
				}
			}
			fmt.Fprintf(a.stdout, "wrote logits.npy, probabilities.npy, features.npy, pooled.npy (N=%d) to %s\n", n, outDir)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ref, "model", "", "model as NAME or NAME:VERSION (required)")
	f.StringVar(&input, "input", "", "input tensor, .npy float32 [N,3,H,W] (required)")
	f.StringVar(&outDir, "out", "", "directory for the output .npy files (required)")
	f.IntVar(&threads, "threads", 0, "worker threads (default: all cores)")
	f.BoolVar(&half, "half", false, "hold the weights in fp16 (always so for fp16 models)")
	a.storeFlag(cmd, &store)
	return cmd
}
