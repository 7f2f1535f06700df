package api

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lcnet/lcnet/storage"
)

// uploadPattern names the directory one upload's files are saved in until
// they are converted.
const uploadPattern = "lcnet-upload-*"

// uploadTempRoot is where uploads are saved before conversion: inside a
// local store (STORE/tmp), so a checkpoint is never copied across file
// systems and its leftovers are found where the operator looks; for other
// stores, the system temp dir.
func uploadTempRoot(st storage.Store) string {
	if l, ok := st.(*storage.Local); ok {
		return filepath.Join(l.Root(), "tmp")
	}
	return os.TempDir()
}

// uploadTempDir makes a fresh directory for one upload.
func (s *Server) uploadTempDir() (string, error) {
	root := os.TempDir()
	if s.cfg.Zoo != nil {
		root = uploadTempRoot(s.cfg.Zoo.Store())
		if err := os.MkdirAll(root, 0o755); err != nil {
			return "", err
		}
	}
	return os.MkdirTemp(root, uploadPattern)
}

// CleanUploads removes the upload directories a server killed mid-upload
// left in the upload temp area of st (each holds a whole checkpoint),
// those last modified before cutoff; lcnet serve passes its own start
// time, so only uploads of earlier processes go. It returns how many it
// removed; a directory it cannot remove is reported and the rest still go.
func CleanUploads(st storage.Store, cutoff time.Time) (int, error) {
	root := uploadTempRoot(st)
	matches, err := filepath.Glob(filepath.Join(root, uploadPattern))
	if err != nil {
		return 0, fmt.Errorf("cleaning uploads in %s: %w", root, err)
	}
	var errs []error
	removed := 0
	for _, dir := range matches {
		if !strings.HasPrefix(filepath.Base(dir), "lcnet-upload-") || newestMod(dir).After(cutoff) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// newestMod is the latest modification time of dir and what is in it: an
// upload still being written or converted touches at least one of them.
func newestMod(dir string) time.Time {
	var newest time.Time
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
		return nil
	})
	return newest
}
