package pull

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(7, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestFetch(t *testing.T) {
	data := randomBytes(300_000)
	sum := sha256.Sum256(data)
	good := hex.EncodeToString(sum[:])
	tests := []struct {
		name     string
		breaks   int  // responses cut off at 100,000 bytes
		noRange  bool // server ignores Range
		attempts int
		want     Want
		wantErr  string
		// wantRanges are the Range headers the server must have seen.
		wantRanges []string
	}{
		{name: "plain", attempts: 1, want: Want{Size: 300_000, SHA256: good}, wantRanges: []string{""}},
		{name: "resumes after a break", breaks: 1, attempts: 2, wantRanges: []string{"", "bytes=100000-"}},
		{name: "resumes twice", breaks: 2, attempts: 3, want: Want{SHA256: good}, wantRanges: []string{"", "bytes=100000-", "bytes=200000-"}},
		{name: "server without ranges restarts", breaks: 1, noRange: true, attempts: 2, want: Want{SHA256: good}, wantRanges: []string{"", "bytes=100000-"}},
		{name: "gives up", breaks: 3, attempts: 2, wantErr: "download incomplete", wantRanges: []string{"", "bytes=100000-"}},
		{name: "checksum mismatch", attempts: 1, want: Want{SHA256: strings.Repeat("0", 64)}, wantErr: "sha256"},
		{name: "size mismatch", attempts: 1, want: Want{Size: 5}, wantErr: "the catalog says 5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t, map[string][]byte{"m.pdparams": data})
			s.breakAt, s.breaks["m.pdparams"], s.noRange = 100_000, tc.breaks, tc.noRange
			dir := t.TempDir()
			f := &Fetcher{Dir: dir, Attempts: tc.attempts, Backoff: time.Millisecond}
			var last int64
			p, err := f.Fetch(context.Background(), s.URL+"/m.pdparams", "m.pdparams", tc.want, func(done, total int64) { last = done })
			if ranges, _ := s.requests(); tc.wantRanges != nil && fmt.Sprint(ranges) != fmt.Sprint(tc.wantRanges) {
				t.Errorf("server saw Range headers %q, want %q", ranges, tc.wantRanges)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if _, err := os.Stat(filepath.Join(dir, "m.pdparams")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a failed fetch left the final file (stat: %v)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("downloaded %d bytes that differ from the %d served", len(got), len(data))
			}
			if last != int64(len(data)) {
				t.Errorf("progress ended at %d, want %d", last, len(data))
			}
			if _, err := os.Stat(p + ".part"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("part file left behind")
			}
		})
	}
}

// TestFetchResumesAcrossCalls: a fetch that gives up keeps its part file,
// and the next fetch (a new process, say) asks only for the rest.
func TestFetchResumesAcrossCalls(t *testing.T) {
	data := randomBytes(250_000)
	s := newSite(t, map[string][]byte{"m.tar": data})
	s.breakAt, s.breaks["m.tar"] = 60_000, 1
	dir := t.TempDir()
	f := &Fetcher{Dir: dir, Attempts: 1, Backoff: time.Millisecond}
	if _, err := f.Fetch(context.Background(), s.URL+"/m.tar", "m.tar", Want{}, nil); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("first fetch: err = %v, want ErrIncomplete", err)
	}
	st, err := os.Stat(filepath.Join(dir, "m.tar.part"))
	if err != nil || st.Size() != 60_000 {
		t.Fatalf("part file after the break: %v, size %d; want 60000 bytes", err, st.Size())
	}
	p, err := f.Fetch(context.Background(), s.URL+"/m.tar", "m.tar", Want{Size: 250_000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, data) {
		t.Fatal("resumed file differs from the served one")
	}
	ranges, full := s.requests()
	if full != 1 || ranges[1] != "bytes=60000-" {
		t.Fatalf("requests %q (%d from byte 0), want a second one resuming at 60000", ranges, full)
	}
}

// TestFetchCompletePart: a part file that already holds every byte (the
// process died before renaming it) is finished without downloading again.
func TestFetchCompletePart(t *testing.T) {
	data := randomBytes(10_000)
	s := newSite(t, map[string][]byte{"m.pdparams": data})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "m.pdparams.part"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	f := &Fetcher{Dir: dir, Attempts: 1}
	p, err := f.Fetch(context.Background(), s.URL+"/m.pdparams", "m.pdparams", Want{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
		t.Fatal("file differs")
	}
}

func TestFetchNotFoundIsNotRetried(t *testing.T) {
	s := newSite(t, map[string][]byte{})
	f := &Fetcher{Dir: t.TempDir(), Attempts: 3, Backoff: time.Millisecond}
	_, err := f.Fetch(context.Background(), s.URL+"/x.pdparams", "x.pdparams", Want{}, nil)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v, want a 404", err)
	}
	if ranges, _ := s.requests(); len(ranges) != 1 {
		t.Fatalf("%d requests for a missing file, want 1", len(ranges))
	}
}

func TestFetchRejectsBadFileNames(t *testing.T) {
	f := &Fetcher{Dir: t.TempDir()}
	for _, name := range []string{"", "../x", "a/b", ".hidden"} {
		if _, err := f.Fetch(context.Background(), "http://127.0.0.1:1/x", name, Want{}, nil); err == nil {
			t.Errorf("file name %q accepted", name)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in          string
		start, size int64
		ok          bool
	}{
		{"bytes 100-199/200", 100, 200, true},
		{"bytes 0-0/*", 0, -1, true},
		{"bytes 5-9/3", 0, 0, false},
		{"items 1-2/3", 0, 0, false},
		{"bytes x-9/10", 0, 0, false},
		{"bytes 1-9", 0, 0, false},
	} {
		start, size, err := parseContentRange(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (start != tc.start || size != tc.size)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %v", tc.in, start, size, err)
		}
	}
}
