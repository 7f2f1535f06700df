// Package head trains a linear classification head (features -> K logits)
// on frozen backbone features with spago: the graph and its backward pass
// are spago ag operators, the parameters are spago nn.Params, and the
// update is a spago optimizer (Adam or momentum SGD).
package head

import (
	"errors"
	"fmt"
	"math"
)

// Optimizer names accepted by Options.Optimizer.
const (
	Adam = "adam"
	SGD  = "sgd"
)

// ErrOption is wrapped by every Options validation error.
var ErrOption = errors.New("head: invalid option")

// Options configures Train. Zero fields take the defaults listed on each.
type Options struct {
	Epochs int     `json:"epochs,omitempty"` // passes over the training set; default 30, range [1, 10000]
	LR     float64 `json:"lr,omitempty"`     // learning rate; default 1e-3 (adam) or 1e-2 (sgd), range (0, 10]
	Batch  int     `json:"batch,omitempty"`  // mini-batch size; default 32, range [1, 65536]
	// WeightDecay applies to W only, never to the bias. With Adam it is
	// spago's AdamW (decoupled: lambda*W is added to the update and scaled by
	// the bias-corrected step); with SGD it is the classic coupled L2 term,
	// wd*W added to the gradient before momentum. Default 0, range [0, 1].
	WeightDecay float64 `json:"weight_decay,omitempty"`
	Seed        uint64  `json:"seed,omitempty"`        // initialisation and shuffling; default 1 (0 means 1)
	Optimizer   string  `json:"optimizer,omitempty"`   // Adam or SGD (momentum 0.9); default Adam
	MultiLabel  bool    `json:"multi_label,omitempty"` // independent sigmoid per label with binary cross-entropy
}

// WithDefaults returns o with zero fields replaced by defaults and the result
// validated. The error wraps ErrOption and names the field and its range.
func (o Options) WithDefaults() (Options, error) {
	if o.Optimizer == "" {
		o.Optimizer = Adam
	}
	if o.Epochs == 0 {
		o.Epochs = 30
	}
	if o.Batch == 0 {
		o.Batch = 32
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.LR == 0 {
		o.LR = 1e-3
		if o.Optimizer == SGD {
			o.LR = 1e-2
		}
	}
	switch {
	case o.Optimizer != Adam && o.Optimizer != SGD:
		return o, fmt.Errorf("%w: optimizer %q, want %q or %q", ErrOption, o.Optimizer, Adam, SGD)
	case o.Epochs < 1 || o.Epochs > 10000:
		return o, fmt.Errorf("%w: epochs %d, want 1..10000", ErrOption, o.Epochs)
	case o.Batch < 1 || o.Batch > 65536:
		return o, fmt.Errorf("%w: batch %d, want 1..65536", ErrOption, o.Batch)
	case !(o.LR > 0 && o.LR <= 10) || math.IsNaN(o.LR):
		return o, fmt.Errorf("%w: learning rate %g, want in (0, 10]", ErrOption, o.LR)
	case !(o.WeightDecay >= 0 && o.WeightDecay <= 1):
		return o, fmt.Errorf("%w: weight decay %g, want in [0, 1]", ErrOption, o.WeightDecay)
	}
	return o, nil
}
