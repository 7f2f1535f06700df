package finetune_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lcnet/lcnet/finetune"
	"github.com/lcnet/lcnet/internal/testimage"
	"github.com/lcnet/lcnet/train/dataset"
	"github.com/lcnet/lcnet/train/head"
	"github.com/lcnet/lcnet/zoo"
)

// small is a quick run: 6 images per class, the pool, a few epochs.
func small(name string) finetune.Options {
	return finetune.Options{Name: name, Layer: finetune.LayerPooled, ValSplit: 0.25, Augment: []string{"flip", "crop"},
		Head: head.Options{Epochs: 4, Batch: 8, Seed: 3, LR: 0.01}}
}

func fcOf(t *testing.T, z *zoo.Zoo, m zoo.Manifest) []byte {
	t.Helper()
	ts, err := z.Weights(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, name := range []string{"fc.weight", "fc.bias"} {
		for _, v := range ts[name].Data {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	return b
}

// TestDeterministic: the same data, options and seed give the same fc
// bytes, and each run is a new version.
func TestDeterministic(t *testing.T) {
	z := textlineZoo(t)
	set := textSet(t, 6, 0)
	var fcs [][]byte
	for run := 1; run <= 2; run++ {
		res, err := finetune.Run(context.Background(), z, "textline", set, nil, small("det"))
		if err != nil {
			t.Fatal(err)
		}
		if want := string(rune('0' + run)); res.Manifest.Version != want {
			t.Errorf("run %d made version %s, want %s", run, res.Manifest.Version, want)
		}
		if res.Rows != 3*len(res.TrainSet.Items) {
			t.Errorf("%d rows for %d images and 2 augmentations", res.Rows, len(res.TrainSet.Items))
		}
		fcs = append(fcs, fcOf(t, z, res.Manifest))
	}
	if !bytes.Equal(fcs[0], fcs[1]) {
		t.Error("two runs with seed 3 stored different fc weights")
	}
}

// TestCancel: cancelling during extraction or training stores nothing.
func TestCancel(t *testing.T) {
	z := textlineZoo(t)
	set := textSet(t, 6, 0)
	for _, stage := range []string{finetune.StageExtract, finetune.StageTrain} {
		t.Run(stage, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opt := small("cancel")
			opt.ExtractBatch = 4
			opt.Progress = func(p finetune.Progress) {
				if p.Stage == stage && p.Done >= 1 {
					cancel()
				}
			}
			_, err := finetune.Run(ctx, z, "textline", set, nil, opt)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v, want context.Canceled", err)
			}
			if _, err := z.Resolve(context.Background(), "cancel", ""); !errors.Is(err, zoo.ErrNotFound) {
				t.Errorf("after a cancelled run: %v, want ErrNotFound", err)
			}
		})
	}
}

// TestBadData: what a data set can get wrong, and what Run says.
func TestBadData(t *testing.T) {
	z := textlineZoo(t)
	write := func(t *testing.T, files map[string][]byte) string {
		dir := t.TempDir()
		for name, b := range files {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	png := func(class string, i int) []byte {
		b, err := testimage.PNG(testimage.TextImage(class, 1, i))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	t.Run("empty class", func(t *testing.T) {
		dir := write(t, map[string][]byte{"a/1.png": png("upright", 1), "b/notes.txt": []byte("x")})
		if _, err := dataset.Open(os.DirFS(dir)); !errors.Is(err, dataset.ErrEmptyClass) {
			t.Fatalf("err %v, want ErrEmptyClass", err)
		}
	})
	t.Run("non-images skipped and counted", func(t *testing.T) {
		files := map[string][]byte{"a/readme.txt": []byte("hello"), "b/broken.png": []byte("\x89PNG\r\n\x1a\nnot really")}
		for i := range 4 {
			files["a/"+string(rune('0'+i))+".png"] = png("upright", i)
			files["b/"+string(rune('0'+i))+".png"] = png("blank", i)
		}
		set, err := dataset.Open(os.DirFS(write(t, files)))
		if err != nil {
			t.Fatal(err)
		}
		opt := small("skips")
		opt.ValSplit = 0
		res, err := finetune.Run(context.Background(), z, "textline", set, nil, opt)
		if err != nil {
			t.Fatal(err)
		}
		if res.Skipped != 1 || res.SkippedFiles != 1 || res.TrainImages != 8 || res.Manifest.Lineage.TrainImages != 8 {
			t.Errorf("skipped %d undecodable and %d other files, trained on %d images; want 1, 1, 8", res.Skipped, res.SkippedFiles, res.TrainImages)
		}
	})
	t.Run("nothing decodes", func(t *testing.T) {
		dir := write(t, map[string][]byte{"a/1.png": []byte("no"), "b/1.jpg": []byte("no")})
		set, err := dataset.Open(os.DirFS(dir))
		if err != nil {
			t.Fatal(err)
		}
		opt := small("none")
		opt.ValSplit = 0
		if _, err := finetune.Run(context.Background(), z, "textline", set, nil, opt); !errors.Is(err, finetune.ErrNoData) {
			t.Fatalf("err %v, want ErrNoData", err)
		}
	})
	t.Run("bad archive", func(t *testing.T) {
		dir := t.TempDir()
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, err := zw.Create("../evil/a.png")
		if err == nil {
			_, err = w.Write(png("upright", 1))
		}
		if err == nil {
			err = zw.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string][]byte{"garbage.tar": bytes.Repeat([]byte("garbage"), 200), "escape.zip": buf.Bytes()} {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			dst := t.TempDir()
			_, _, err := finetune.OpenArchive(context.Background(), p, dst, dataset.Limits{})
			if !errors.Is(err, dataset.ErrArchive) && !errors.Is(err, dataset.ErrUnsafe) {
				t.Errorf("%s: err %v, want ErrArchive or ErrUnsafe", name, err)
			}
		}
	})
	t.Run("options", func(t *testing.T) {
		set := textSet(t, 2, 0)
		for _, o := range []finetune.Options{
			{Name: "x", Layer: "logits"},
			{Name: "x", Augment: []string{"rotate"}},
			{Name: "bad name!"},
			{Name: "x", ValSplit: 1},
			{Name: "x", Head: head.Options{LR: -1}},
		} {
			if _, err := finetune.Run(context.Background(), z, "textline", set, nil, o); !errors.Is(err, finetune.ErrOption) && !errors.Is(err, head.ErrOption) {
				t.Errorf("%+v: err %v, want an option error", o, err)
			}
		}
		if _, err := finetune.Run(context.Background(), z, "nosuch", set, nil, finetune.Options{Name: "x"}); !errors.Is(err, zoo.ErrNotFound) {
			t.Errorf("unknown base: %v", err)
		}
	})
}

// TestMultiLabel trains on a labels.csv set: the new version is marked
// multi-label and its head is scored per label.
func TestMultiLabel(t *testing.T) {
	z := textlineZoo(t)
	dir := t.TempDir()
	csv := "path,labels\n"
	for i := range 8 {
		for _, c := range []struct{ class, labels string }{{"upright", "text"}, {"rotated", "text;turned"}, {"blank", ""}} {
			name := fmt.Sprintf("%s%d.png", c.class, i)
			b, err := testimage.PNG(testimage.TextImage(c.class, 4, i))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
			csv += name + "," + c.labels + "\n"
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := dataset.Open(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	opt := small("multi")
	opt.Augment = nil
	opt.Head.Epochs = 30
	res, err := finetune.Run(context.Background(), z, "textline", set, nil, opt)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if !m.Arch.MultiLabel || m.Arch.ClassNum != 2 || !slices.Equal(m.Labels, []string{"text", "turned"}) {
		t.Fatalf("multi-label manifest: multi_label %v, %d classes, labels %v", m.Arch.MultiLabel, m.Arch.ClassNum, m.Labels)
	}
	t.Logf("multi-label exact-match accuracy: train %.3f, val %.3f", res.Head.Best.TrainAccuracy, res.Head.Best.ValAccuracy)
	if res.Head.Best.TrainAccuracy < 0.9 {
		t.Errorf("train exact-match accuracy %.3f", res.Head.Best.TrainAccuracy)
	}
}

// TestSeparateValidation: a validation set given apart is aligned by class
// name, digested on its own and not split from the training set.
func TestSeparateValidation(t *testing.T) {
	z := textlineZoo(t)
	train, val := textSet(t, 4, 0), textSet(t, 2, 10)
	opt := small("val")
	res, err := finetune.Run(context.Background(), z, "textline", train, val, opt)
	if err != nil {
		t.Fatal(err)
	}
	l := res.Manifest.Lineage
	if l.TrainImages != 16 || l.ValImages != 8 || len(l.ValDatasetSHA256) != 64 || l.ValDatasetSHA256 == l.DatasetSHA256 || l.Hyper.ValSplit != 0 {
		t.Errorf("lineage %+v", l)
	}
	if l.ValAccuracy < 0 {
		t.Errorf("no validation accuracy: %g", l.ValAccuracy)
	}
}
