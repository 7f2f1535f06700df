// Package storagetest is the conformance suite every storage.Store backend
// must pass, so the zoo can rely on the same semantics everywhere.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/lcnet/lcnet/storage"
)

// Run exercises a backend; newStore must return an empty store.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	ctx := context.Background()
	read := func(t *testing.T, s storage.Store, key string) string {
		t.Helper()
		rc, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get %s: %v", key, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	t.Run("PutGetStat", func(t *testing.T) {
		s := newStore(t)
		if err := s.Put(ctx, "a/b/c.json", strings.NewReader("hello")); err != nil {
			t.Fatal(err)
		}
		if got := read(t, s, "a/b/c.json"); got != "hello" {
			t.Fatalf("got %q", got)
		}
		info, err := s.Stat(ctx, "a/b/c.json")
		if err != nil || info.Size != 5 {
			t.Fatalf("Stat: %+v %v", info, err)
		}
		if err := s.Put(ctx, "a/b/c.json", strings.NewReader("replaced")); err != nil {
			t.Fatal(err)
		}
		if got := read(t, s, "a/b/c.json"); got != "replaced" {
			t.Fatalf("after replace got %q", got)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Get(ctx, "nope"); !errors.Is(err, storage.ErrNotExist) {
			t.Fatalf("Get missing: %v", err)
		}
		if _, err := s.Stat(ctx, "nope"); !errors.Is(err, storage.ErrNotExist) {
			t.Fatalf("Stat missing: %v", err)
		}
		if err := s.Delete(ctx, "nope"); err != nil {
			t.Fatalf("Delete missing: %v", err)
		}
	})
	t.Run("BadKeys", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []string{"", "../x", "a/../../x", "/abs", "a//b", `a\b`, "a/./b"} {
			if err := s.Put(ctx, k, strings.NewReader("x")); err == nil {
				t.Errorf("Put(%q) succeeded", k)
			}
		}
	})
	t.Run("ListAndDelete", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []string{"m/x/2/w", "m/x/1/w", "m/y/1/w", "other"} {
			if err := s.Put(ctx, k, strings.NewReader(k)); err != nil {
				t.Fatal(err)
			}
		}
		keys, err := s.List(ctx, "m/x/")
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(keys) != "[m/x/1/w m/x/2/w]" {
			t.Fatalf("List = %v", keys)
		}
		if err := s.Delete(ctx, "m/x/1/w"); err != nil {
			t.Fatal(err)
		}
		keys, _ = s.List(ctx, "m/")
		if fmt.Sprint(keys) != "[m/x/2/w m/y/1/w]" {
			t.Fatalf("List after delete = %v", keys)
		}
	})
	t.Run("PutIfAbsent", func(t *testing.T) {
		s := newStore(t)
		if err := s.PutIfAbsent(ctx, "claim", strings.NewReader("first")); err != nil {
			t.Fatal(err)
		}
		if err := s.PutIfAbsent(ctx, "claim", strings.NewReader("second")); !errors.Is(err, storage.ErrExist) {
			t.Fatalf("second PutIfAbsent: %v", err)
		}
		if got := read(t, s, "claim"); got != "first" {
			t.Fatalf("claim holds %q", got)
		}
	})
	t.Run("PutIfAbsentRace", func(t *testing.T) {
		s := newStore(t)
		const n = 20
		var wg sync.WaitGroup
		wins := make(chan int, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.PutIfAbsent(ctx, "race", strings.NewReader(fmt.Sprint(i)))
				switch {
				case err == nil:
					wins <- i
				case !errors.Is(err, storage.ErrExist):
					t.Errorf("PutIfAbsent: %v", err)
				}
			}()
		}
		wg.Wait()
		close(wins)
		var winners []int
		for w := range wins {
			winners = append(winners, w)
		}
		if len(winners) != 1 {
			t.Fatalf("%d winners, want exactly 1", len(winners))
		}
		if got := read(t, s, "race"); got != fmt.Sprint(winners[0]) {
			t.Fatalf("object holds %q, winner was %d", got, winners[0])
		}
	})
	t.Run("FailedWriteLeavesOld", func(t *testing.T) {
		s := newStore(t)
		if err := s.Put(ctx, "obj", strings.NewReader("old")); err != nil {
			t.Fatal(err)
		}
		broken := io.MultiReader(bytes.NewReader([]byte("partial new")), errReader{})
		if err := s.Put(ctx, "obj", broken); err == nil {
			t.Fatal("Put from a failing reader succeeded")
		}
		if got := read(t, s, "obj"); got != "old" {
			t.Fatalf("after a failed write the object holds %q", got)
		}
		if err := s.PutIfAbsent(ctx, "fresh", io.MultiReader(strings.NewReader("x"), errReader{})); err == nil {
			t.Fatal("PutIfAbsent from a failing reader succeeded")
		}
		if _, err := s.Stat(ctx, "fresh"); !errors.Is(err, storage.ErrNotExist) {
			t.Fatalf("a failed PutIfAbsent left an object: %v", err)
		}
		keys, _ := s.List(ctx, "")
		if fmt.Sprint(keys) != "[obj]" {
			t.Fatalf("failed writes left keys: %v", keys)
		}
	})
	t.Run("EmptyAndLarge", func(t *testing.T) {
		s := newStore(t)
		large := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
		// Past 16 MiB, so backends that switch to multipart uploads do.
		huge := bytes.Repeat([]byte("fedcba9876543210"), 17<<16)
		for _, tc := range []struct {
			key  string
			data []byte
		}{{"empty", nil}, {"big/blob", large}, {"big/huge", huge}} {
			if err := s.Put(ctx, tc.key, bytes.NewReader(tc.data)); err != nil {
				t.Fatalf("Put %s: %v", tc.key, err)
			}
			if got := read(t, s, tc.key); got != string(tc.data) {
				t.Fatalf("%s: read %d bytes, wrote %d", tc.key, len(got), len(tc.data))
			}
			info, err := s.Stat(ctx, tc.key)
			if err != nil || info.Size != int64(len(tc.data)) || info.ModTime.IsZero() {
				t.Fatalf("Stat %s: %+v %v", tc.key, info, err)
			}
		}
	})
	t.Run("PrefixIsNotAnObject", func(t *testing.T) {
		s := newStore(t)
		if err := s.Put(ctx, "dir/sub/obj", strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"dir", "dir/sub"} {
			if _, err := s.Get(ctx, k); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("Get(%q) of a prefix: %v", k, err)
			}
			if _, err := s.Stat(ctx, k); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("Stat(%q) of a prefix: %v", k, err)
			}
			if err := s.Delete(ctx, k); err != nil {
				t.Errorf("Delete(%q) of a prefix: %v", k, err)
			}
		}
		if err := s.Delete(ctx, "dir/missing/deeper"); err != nil {
			t.Errorf("Delete of a missing nested key: %v", err)
		}
		if got := read(t, s, "dir/sub/obj"); got != "x" {
			t.Fatalf("object under the prefix holds %q", got)
		}
	})
	t.Run("ListPrefixes", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []string{"models/a/1/w", "models/ab/1/w", "models/b/1/w", "top"} {
			if err := s.Put(ctx, k, strings.NewReader(k)); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct{ prefix, want string }{
			{"", "[models/a/1/w models/ab/1/w models/b/1/w top]"},
			{"models/a", "[models/a/1/w models/ab/1/w]"}, // a plain string prefix, as in S3
			{"models/a/", "[models/a/1/w]"},
			{"models/c/", "[]"},
			{"top", "[top]"},
			{"top/", "[]"},
			{"nothing", "[]"},
		} {
			keys, err := s.List(ctx, tc.prefix)
			if err != nil {
				t.Errorf("List(%q): %v", tc.prefix, err)
				continue
			}
			if fmt.Sprint(keys) != tc.want {
				t.Errorf("List(%q) = %v, want %s", tc.prefix, keys, tc.want)
			}
		}
	})
	t.Run("DeleteThenReclaim", func(t *testing.T) {
		s := newStore(t)
		if err := s.PutIfAbsent(ctx, "m/1/claim", strings.NewReader("a")); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "m/1/claim"); err != nil {
			t.Fatal(err)
		}
		if err := s.PutIfAbsent(ctx, "m/1/claim", strings.NewReader("b")); err != nil {
			t.Fatalf("PutIfAbsent after Delete: %v", err)
		}
		if keys, _ := s.List(ctx, "m/"); fmt.Sprint(keys) != "[m/1/claim]" {
			t.Fatalf("List = %v", keys)
		}
	})
	t.Run("CanceledContext", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Put(cctx, "c", strings.NewReader("x")); err == nil {
			t.Fatal("Put with a canceled context succeeded")
		}
		if _, err := s.Stat(ctx, "c"); !errors.Is(err, storage.ErrNotExist) {
			t.Fatalf("a canceled Put left an object: %v", err)
		}
	})
	t.Run("AtomicReplace", func(t *testing.T) {
		// Readers racing a writer that keeps replacing one object must see
		// one whole version each time, never a mix or a prefix.
		s := newStore(t)
		const size = 256 << 10
		if err := s.Put(ctx, "hot", bytes.NewReader(bytes.Repeat([]byte{'A'}, size))); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done)
			for i := 0; i < 20; i++ {
				c := byte('A' + i%2)
				if err := s.Put(ctx, "hot", bytes.NewReader(bytes.Repeat([]byte{c}, size))); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
			}
		}()
		for r := 0; r < 3; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-done:
						return
					default:
					}
					rc, err := s.Get(ctx, "hot")
					if err != nil {
						t.Errorf("Get during replacement: %v", err)
						return
					}
					b, err := io.ReadAll(rc)
					rc.Close()
					if err != nil {
						t.Errorf("reading during replacement: %v", err)
						return
					}
					if len(b) != size || bytes.Count(b, b[:1]) != size {
						t.Errorf("read a torn object: %d bytes, first %q", len(b), b[:min(len(b), 1)])
						return
					}
				}
			}()
		}
		wg.Wait()
	})
	t.Run("ConcurrentWritesAndDeletes", func(t *testing.T) {
		// Deleting the last object under a prefix must not break writers
		// creating new objects under the same prefix at the same time.
		s := newStore(t)
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 10; j++ {
					k := fmt.Sprintf("shared/dir/%d-%d", i, j)
					if err := s.Put(ctx, k, strings.NewReader("x")); err != nil {
						t.Errorf("Put %s: %v", k, err)
						return
					}
					if err := s.Delete(ctx, k); err != nil {
						t.Errorf("Delete %s: %v", k, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if keys, err := s.List(ctx, "shared/"); err != nil || len(keys) != 0 {
			t.Fatalf("after deleting everything List = %v, %v", keys, err)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("writer crashed") }
