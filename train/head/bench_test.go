package head

import (
	"context"
	"testing"
)

// BenchmarkTrain10k is the size of a typical fine-tune: 10,000 cached
// PP-LCNet features (D=1280) for 4 classes, 30 epochs of batch 32.
func BenchmarkTrain10k(b *testing.B) {
	train := blobs(9, 10000, 4, 1280, false)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Train(context.Background(), train, Dataset{}, Options{Epochs: 30, Batch: 32}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
