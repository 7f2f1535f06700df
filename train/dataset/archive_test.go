package dataset

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

type entry struct {
	name, link string
	typ        byte // tar type; zip uses it for symlinks only
	data       []byte
	size       int64 // zero-filled data of this size when data is nil
}

func tarBytes(t testing.TB, gz bool, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		size := int64(len(e.data))
		if e.data == nil {
			size = e.size
		}
		if typ != tar.TypeReg {
			size = 0
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Size: size, Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if e.data != nil {
			if _, err := tw.Write(e.data); err != nil {
				t.Fatal(err)
			}
		} else if size > 0 {
			if _, err := io.Copy(tw, io.LimitReader(zeros{}, size)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func zipBytes(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.typ == tar.TypeSymlink {
			h.SetMode(fs.ModeSymlink | 0o777)
			e.data = []byte(e.link)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if e.data != nil {
			if _, err := w.Write(e.data); err != nil {
				t.Fatal(err)
			}
		} else {
			if _, err := io.Copy(w, io.LimitReader(zeros{}, e.size)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// deflateZeros returns a raw deflate stream of mib MiB of zeros, built by
// repeating one flushed 1 MiB segment so that the test does not compress
// the whole size.
func deflateZeros(t testing.TB, mib int) []byte {
	var seg, tail bytes.Buffer
	fw, _ := flate.NewWriter(&seg, flate.BestCompression)
	if _, err := fw.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	fw.Flush()
	fw.Reset(&tail)
	fw.Close()
	return append(bytes.Repeat(seg.Bytes(), mib), tail.Bytes()...)
}

// bombZip holds one entry of mib MiB of zeros that declares the given
// uncompressed size.
func bombZip(t testing.TB, mib int, declared uint64) []byte {
	raw := deflateZeros(t, mib)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "bomb.jpg", Method: zip.Deflate,
		CompressedSize64: uint64(len(raw)), UncompressedSize64: declared, CRC32: crc32.ChecksumIEEE(make([]byte, 100))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

// bombTarGz is a gzip stream of a tar header for name of mib MiB followed
// by mib gzip members of 1 MiB of zeros each (gzip readers join members).
func bombTarGz(t testing.TB, name string, mib int) []byte {
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(mib) << 20, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := zw.Write(b); err != nil {
			t.Fatal(err)
		}
		zw.Close()
		return buf.Bytes()
	}
	return append(gz(hdr.Bytes()), bytes.Repeat(gz(make([]byte, 1<<20)), mib)...)
}

func extract(t testing.TB, data []byte, lim Limits) (string, Extracted, error) {
	dir := t.TempDir()
	name := filepath.Join(t.TempDir(), "upload")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, rep, err := ExtractFile(context.Background(), name, dir, lim)
	return dir, rep, err
}

func TestExtract(t *testing.T) {
	entries := []entry{
		{name: "./cat/", typ: tar.TypeDir},
		{name: "./cat/a.jpg", data: []byte("jpeg")},
		{name: "dog/b.png", data: []byte("png")},
		{name: "dog/.DS_Store", data: []byte("junk")},
		{name: "run.sh", data: []byte("#!/bin/sh")},
		{name: "labels.txt", data: []byte("cat\ndog\n")},
	}
	for name, data := range map[string][]byte{
		"tar":    tarBytes(t, false, entries...),
		"tar.gz": tarBytes(t, true, entries...),
		"zip":    zipBytes(t, entries[1:]...),
	} {
		t.Run(name, func(t *testing.T) {
			dir, rep, err := extract(t, data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Images != 2 || rep.Metadata != 1 || rep.Skipped != 2 || rep.Bytes != 15 {
				t.Errorf("report %+v", rep)
			}
			s, err := ImageFolder(os.DirFS(dir))
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Items) != 2 || s.Classes[0] != "cat" {
				t.Errorf("set %+v", s)
			}
			if _, err := os.Stat(filepath.Join(dir, "run.sh")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("skipped file written: %v", err)
			}
		})
	}
}

func TestExtractRefuses(t *testing.T) {
	small := Limits{Entries: 3, EntryBytes: 1 << 10, TotalBytes: 2 << 10}
	for _, tc := range []struct {
		name string
		data []byte
		lim  Limits
		want error
	}{
		{"tar traversal", tarBytes(t, false, entry{name: "../evil.jpg", data: []byte("x")}), Limits{}, ErrUnsafe},
		{"tar nested traversal", tarBytes(t, false, entry{name: "a/../../evil.jpg", data: []byte("x")}), Limits{}, ErrUnsafe},
		{"tar absolute", tarBytes(t, false, entry{name: "/etc/evil.jpg", data: []byte("x")}), Limits{}, ErrUnsafe},
		{"tar backslash", tarBytes(t, false, entry{name: "..\\evil.jpg", data: []byte("x")}), Limits{}, ErrUnsafe},
		{"tar symlink", tarBytes(t, false, entry{name: "a.jpg", typ: tar.TypeSymlink, link: "/etc/passwd"}), Limits{}, ErrUnsafe},
		{"tar hardlink", tarBytes(t, false, entry{name: "a.jpg", typ: tar.TypeLink, link: "/etc/passwd"}), Limits{}, ErrUnsafe},
		{"tar device", tarBytes(t, false, entry{name: "a.jpg", typ: tar.TypeChar}), Limits{}, ErrUnsafe},
		{"tar duplicate", tarBytes(t, false, entry{name: "a.jpg", data: []byte("1")}, entry{name: "a.jpg", data: []byte("2")}), Limits{}, ErrUnsafe},
		{"zip traversal", zipBytes(t, entry{name: "../evil.jpg", data: []byte("x")}), Limits{}, ErrUnsafe},
		{"zip absolute", zipBytes(t, entry{name: "/evil.jpg", data: []byte("x")}), Limits{}, ErrUnsafe},
		{"zip symlink", zipBytes(t, entry{name: "a.jpg", typ: tar.TypeSymlink, link: "/etc/passwd"}), Limits{}, ErrUnsafe},
		{"too many entries", tarBytes(t, false, entry{name: "a/", typ: tar.TypeDir}, entry{name: "a/1.jpg"}, entry{name: "a/2.jpg"}, entry{name: "a/3.jpg"}), small, ErrLimit},
		{"zip too many entries", zipBytes(t, entry{name: "1.jpg"}, entry{name: "2.jpg"}, entry{name: "3.jpg"}, entry{name: "4.jpg"}), small, ErrLimit},
		{"entry too big", tarBytes(t, true, entry{name: "a.jpg", size: 2 << 10}), small, ErrLimit},
		{"zip entry too big", zipBytes(t, entry{name: "a.jpg", size: 2 << 10}), small, ErrLimit},
		{"total too big", tarBytes(t, false, entry{name: "a.jpg", size: 1 << 10}, entry{name: "b.jpg", size: 1 << 10}, entry{name: "c.jpg", size: 1}), small, ErrLimit},
		{"zip lies about size", bombZip(t, 1, 100), Limits{}, ErrArchive},
		{"truncated", tarBytes(t, true, entry{name: "a.jpg", data: bytes.Repeat([]byte("noise"), 999)})[:100], Limits{}, ErrArchive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := extract(t, tc.data, tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

// TestBombs feeds archives that expand to 1 GiB and checks that they are
// refused while the bytes allocated during extraction stay near the
// decompressors' own buffers.
func TestBombs(t *testing.T) {
	const mib = 1024
	lim := Limits{Entries: 10, EntryBytes: 1 << 20, TotalBytes: 4 << 20}
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		// A skipped entry is never written, so only the stream cap stops it.
		{"tar.gz of a skipped file", bombTarGz(t, "big.bin", mib), ErrLimit},
		{"tar.gz of an image", bombTarGz(t, "big.jpg", mib), ErrLimit},
		{"zip declaring its size", bombZip(t, mib, mib<<20), ErrLimit},
		{"zip lying about its size", bombZip(t, mib, 100), ErrArchive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			dir, rep, err := extract(t, tc.data, lim)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
				t.Errorf("extraction allocated %d bytes", alloc)
			}
			if rep.Bytes > lim.EntryBytes+1 {
				t.Errorf("wrote %d bytes", rep.Bytes)
			}
			t.Logf("%d compressed bytes; refused after writing %d bytes; allocated %d bytes", len(tc.data), rep.Bytes, after.TotalAlloc-before.TotalAlloc)
			_ = dir
		})
	}
}

func FuzzExtract(f *testing.F) {
	lim := Limits{Entries: 16, EntryBytes: 4 << 10, TotalBytes: 16 << 10}
	base := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		for _, run := range []func(dir string) (Extracted, error){
			func(dir string) (Extracted, error) {
				return ExtractZip(ctx, bytes.NewReader(data), int64(len(data)), dir, lim)
			},
			func(dir string) (Extracted, error) { return ExtractTar(ctx, bytes.NewReader(data), dir, lim) },
			func(dir string) (Extracted, error) { return ExtractTarGz(ctx, bytes.NewReader(data), dir, lim) },
		} {
			dir, err := os.MkdirTemp(base, "x")
			if err != nil {
				t.Fatal(err)
			}
			rep, err := run(dir)
			if rep.Bytes > lim.TotalBytes {
				t.Fatalf("wrote %d bytes, limit %d", rep.Bytes, lim.TotalBytes)
			}
			if err != nil && !errors.Is(err, ErrUnsafe) && !errors.Is(err, ErrLimit) && !errors.Is(err, ErrArchive) {
				t.Fatalf("untyped error %v", err)
			}
			_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					t.Fatal(err)
				}
				if d.Type()&fs.ModeSymlink != 0 {
					t.Fatalf("symlink %s written", p)
				}
				if info, _ := d.Info(); d.Type().IsRegular() && info.Size() > lim.EntryBytes {
					t.Fatalf("%s has %d bytes", p, info.Size())
				}
				return nil
			})
			os.RemoveAll(dir)
		}
	})
}
