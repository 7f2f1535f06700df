package head_test

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"testing/fstest"

	"github.com/lcnet/lcnet/train/dataset"
	"github.com/lcnet/lcnet/train/features"
	"github.com/lcnet/lcnet/train/head"
)

// Example shows the flow an integrator wires up: discover a set, split it,
// run each image through the frozen backbone once into a feature cache,
// train the head, and store it as PaddleClas' fc.weight and fc.bias. The
// backbone here is a stand-in that maps an image's bytes to a
// class-dependent vector, since decoding is outside these packages.
func Example() {
	fsys := fstest.MapFS{}
	for i := 0; i < 20; i++ {
		fsys[fmt.Sprintf("cat/%02d.jpg", i)] = &fstest.MapFile{Data: []byte{0, byte(i)}}
		fsys[fmt.Sprintf("dog/%02d.jpg", i)] = &fstest.MapFile{Data: []byte{1, byte(i)}}
	}
	set, err := dataset.Open(fsys)
	if err != nil {
		panic(err)
	}
	train, val, err := dataset.Split(set, 0.25, 1)
	if err != nil {
		panic(err)
	}
	const dim = 8
	backbone := func(img []byte) []float32 {
		rng := rand.New(rand.NewPCG(uint64(img[1]), 0))
		row := make([]float32, dim)
		for j := range row {
			row[j] = float32(rng.NormFloat64()) * 0.3
		}
		row[img[0]] += 2
		return row
	}
	cache, err := features.New(dim, 1<<20, "")
	if err != nil {
		panic(err)
	}
	defer cache.Close()
	rows := func(s *dataset.Set) head.Dataset {
		d := head.Dataset{Classes: len(s.Classes), Labels: s.Labels()}
		for _, it := range s.Items {
			img, err := fs.ReadFile(s.FS, it.Path)
			if err != nil {
				panic(err)
			}
			k := features.Key{Image: int(img[0])*100 + int(img[1])}
			row, ok, err := cache.Get(k, nil)
			if err != nil {
				panic(err)
			}
			if !ok {
				row = backbone(img)
				if err := cache.Put(k, row); err != nil {
					panic(err)
				}
			}
			d.Rows = append(d.Rows, row)
		}
		return d
	}
	res, err := head.Train(context.Background(), rows(train), rows(val), head.Options{Epochs: 20, LR: 0.05}, nil)
	if err != nil {
		panic(err)
	}
	weight, bias := res.FC()
	fmt.Println("classes", set.Classes, "train", len(train.Items), "val", len(val.Items))
	fmt.Println("val accuracy", res.Best.ValAccuracy)
	fmt.Println("fc.weight", len(weight), "= D x K; fc.bias", len(bias))
	// Output:
	// classes [cat dog] train 30 val 10
	// val accuracy 1
	// fc.weight 16 = D x K; fc.bias 2
}
