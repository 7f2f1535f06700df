package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lcnet/lcnet/onnx"
)

func (a *app) exportCmd() *cobra.Command {
	var store, ref, format, out string
	var opset int
	cmd := &cobra.Command{
		Use:   "export --model NAME[:VERSION] --format onnx --out FILE",
		Short: "Export a zoo model to ONNX",
		Long: `Export writes a zoo model as an ONNX file with BatchNorm folded into the
convolutions. The graph takes x [N,3,H,W] (float32, normalized as the
model's preprocessing says; N, H and W are dynamic) and has four outputs:
logits and probabilities [N,classes], features [N,feature_dim] and pooled
[N,channels]. The labels and preprocessing are stored in the model's
metadata_props (lcnet.labels, lcnet.preprocess, lcnet.arch).`,
		Example: `  lcnet export --model PPLCNet_x1_0 --format onnx --out pplcnet_x1_0.onnx
  lcnet export --model textline:2 --format onnx --opset 13 --out textline.onnx`,
		Args: exactArgs(0, "no positional arguments (use --model and --out)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case ref == "":
				return usagef("--model is required")
			case out == "":
				return usagef("--out is required")
			case strings.ToLower(format) != "onnx":
				return usagef("--format %q: only onnx is supported", format)
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
			meta := map[string]string{"lcnet.model": m.Name + ":" + m.Version}
			if b, err := json.Marshal(m.Labels); err == nil && len(m.Labels) > 0 {
				meta["lcnet.labels"] = string(b)
			}
			if b, err := json.Marshal(m.Preprocess); err == nil {
				meta["lcnet.preprocess"] = string(b)
			}
			opts := onnx.Options{Opset: opset, ProducerVersion: versionString(), Metadata: meta}
			// Write beside the target and rename, so a failed export never
			// leaves a truncated .onnx where a good one was expected.
			tmp, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".*.tmp")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			bw := bufio.NewWriter(tmp)
			if err := onnx.Write(bw, m.Arch, tensors, opts); err != nil {
				tmp.Close()
				return err
			}
			if err := bw.Flush(); err != nil {
				tmp.Close()
				return fmt.Errorf("writing %s: %w", out, err)
			}
			if err := tmp.Close(); err != nil {
				return fmt.Errorf("writing %s: %w", out, err)
			}
			if err := os.Chmod(tmp.Name(), 0o644); err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), out); err != nil {
				return err
			}
			st, err := os.Stat(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s  %s:%s, %s\n", out, m.Name, m.Version, humanBytes(st.Size()))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ref, "model", "", "model as NAME or NAME:VERSION (required)")
	f.StringVar(&format, "format", "onnx", "output format (onnx)")
	f.StringVar(&out, "out", "", "output file (required)")
	f.IntVar(&opset, "opset", 0, fmt.Sprintf("ONNX opset, 13 to 21 (default %d)", onnx.DefaultOpset))
	a.storeFlag(cmd, &store)
	return cmd
}
