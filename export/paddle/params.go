// Package paddle writes a PP-LCNet the way PaddleClas hands one to a user:
// a dygraph state dict as paddle.save writes it (NAME.pdparams), the
// training config that rebuilds the network around it (NAME.yaml) and the
// class list (labels.txt). It is the way back from the zoo to PaddlePaddle,
// and lcnet convert reads the three files into the same model. It reads
// nothing.
package paddle

import (
	"context"
	"fmt"
	"io"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/pickleenc"
)

// structuredKey is the entry paddle.save adds after the tensors: a dict
// from structured name to the static name the parameter had in Paddle.
const structuredKey = "StructuredToParameterName@@"

// setItemsBatch is how many pairs CPython's pickler puts under one
// SETITEMS (pickle.py's _BATCHSIZE).
const setItemsBatch = 1000

// Progress is told the bytes of array data written so far and in all.
type Progress func(done, total int64)

// WriteParams writes tensors as the state dict PaddleClas' PPLCNet gives
// paddle.save: a protocol-4 pickle of a dict from structured name to a
// float32 numpy array, in the network's order, then
// StructuredToParameterName@@. tensors must fit a (arch.Check); BatchNorm
// is written unfolded, as it is stored, and fc.weight in Paddle's [in, out]
// layout. ctx is checked between tensors; progress, when set, is told the
// array bytes written after each one.
func WriteParams(ctx context.Context, w io.Writer, a arch.Arch, tensors map[string]arch.Tensor, progress Progress) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("paddle export: %w", err)
	}
	if err := a.Check(tensors); err != nil {
		return fmt.Errorf("paddle export: %w", err)
	}
	specs := a.Tensors()
	var total, done int64
	for _, sp := range specs {
		total += 4 * int64(len(tensors[sp.Name].Data))
	}
	e := pickleenc.NewEncoder(w)
	e.EmptyDict()
	// paddle.save's name table is keyed by the state dict's own key
	// objects, which the pickler memoizes: it refers to them again.
	keys := make([]pickleenc.Ref, len(specs))
	// The name table is the dict's last item, in the same SETITEMS batch
	// as the tensors before it.
	err := setItems(e, len(specs)+1, func(i int) error {
		if i == len(specs) {
			return writeNameTable(e, a, specs, keys)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		t := tensors[specs[i].Name]
		keys[i] = e.String(specs[i].Name)
		e.Float32Array(t.Shape, t.Data)
		if err := e.Err(); err != nil {
			return fmt.Errorf("paddle export: tensor %s: %w", specs[i].Name, err)
		}
		done += 4 * int64(len(t.Data))
		if progress != nil {
			progress(done, total)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := e.Close(); err != nil {
		return fmt.Errorf("paddle export: %w", err)
	}
	return nil
}

// writeNameTable pushes StructuredToParameterName@@ and its dict.
func writeNameTable(e *pickleenc.Encoder, a arch.Arch, specs []arch.TensorSpec, keys []pickleenc.Ref) error {
	e.String(structuredKey)
	e.EmptyDict()
	names := StaticNames(a)
	return setItems(e, len(specs), func(i int) error {
		e.Get(keys[i])
		e.String(names[specs[i].Name])
		return nil
	})
}

// StaticNames gives each tensor of a the static name Paddle's dygraph
// assigns when PaddleClas builds PPLCNet in a fresh process: layers are
// numbered per type in the order the constructor creates them (conv1, each
// block's dw_conv, SE convs and pw_conv, last_conv), so
// blocks6.1.se.conv2.bias is conv2d_29.b_0 at every scale. Loading ignores
// these names; paddle.save records them, so the export does too.
func StaticNames(a arch.Arch) map[string]string {
	names := map[string]string{}
	conv, bn := 0, 0
	convBN := func(prefix string) {
		names[prefix+".conv.weight"] = fmt.Sprintf("conv2d_%d.w_0", conv)
		for i, suf := range arch.BNSuffixes {
			names[prefix+".bn."+suf] = fmt.Sprintf("batch_norm2d_%d.%s", bn, [...]string{"w_0", "b_0", "w_1", "w_2"}[i])
		}
		conv++
		bn++
	}
	convBN("conv1")
	for _, b := range a.Blocks {
		p := b.Name()
		convBN(p + ".dw_conv")
		if b.SE {
			for _, c := range []string{"conv1", "conv2"} {
				names[p+".se."+c+".weight"] = fmt.Sprintf("conv2d_%d.w_0", conv)
				names[p+".se."+c+".bias"] = fmt.Sprintf("conv2d_%d.b_0", conv)
				conv++
			}
		}
		convBN(p + ".pw_conv")
	}
	if a.UseLastConv {
		names["last_conv.weight"] = fmt.Sprintf("conv2d_%d.w_0", conv)
	}
	names["fc.weight"], names["fc.bias"] = "linear_0.w_0", "linear_0.b_0"
	return names
}

// setItems adds n key-value pairs, pushed by item(i), to the dict on top
// of the stack, in batches of setItemsBatch under one SETITEMS (a lone
// pair with SETITEM), as CPython's _batch_setitems does.
func setItems(e *pickleenc.Encoder, n int, item func(i int) error) error {
	for start := 0; start < n; start += setItemsBatch {
		end := min(start+setItemsBatch, n)
		if end-start > 1 {
			e.Mark()
		}
		for i := start; i < end; i++ {
			if err := item(i); err != nil {
				return err
			}
		}
		if end-start > 1 {
			e.SetItems()
		} else {
			e.SetItem()
		}
	}
	return nil
}
