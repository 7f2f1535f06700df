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
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("writer crashed") }
