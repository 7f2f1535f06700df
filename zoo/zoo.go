package zoo

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/storage"
)

// Errors callers test with errors.Is; the wrapping message names the model.
var (
	ErrNotFound      = errors.New("not found")
	ErrVersionExists = errors.New("version already exists")
	ErrChecksum      = errors.New("weights checksum mismatch")
	ErrInvalidName   = errors.New("invalid name")
	// ErrBadManifest is a manifest.json that does not decode or does not
	// describe the version it is stored under (edited or damaged by hand:
	// the zoo itself writes manifests atomically).
	ErrBadManifest = errors.New("unreadable manifest")
)

// Object names inside a version.
const (
	weightsFile  = "weights.safetensors"
	manifestFile = "manifest.json"
	// claimFile reserves a version number before anything else is written.
	// It stays after a delete, so a NAME:VERSION always means one set of
	// weights, on every replica and in every cache.
	claimFile = "claim"
)

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidateName checks a model name or version string.
func ValidateName(what, s string) error {
	if !namePattern.MatchString(s) || strings.Contains(s, "..") {
		return fmt.Errorf("%w: %s %q: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrInvalidName, what, s)
	}
	return nil
}

// ParseRef splits "NAME[:VERSION]"; an empty or "latest" version means the
// newest.
func ParseRef(ref string) (name, version string, err error) {
	name, version, _ = strings.Cut(ref, ":")
	if err := ValidateName("model name", name); err != nil {
		return "", "", err
	}
	if version == "latest" {
		version = ""
	}
	if version != "" {
		if err := ValidateName("version", version); err != nil {
			return "", "", err
		}
	}
	return name, version, nil
}

// Latest is the version word that means the newest version wherever a
// version is read (ParseRef, Resolve, ?version=), so no version may be
// created under it: it could be served but never named.
const Latest = "latest"

// ValidateVersion checks a version string for a new version: a valid name
// that is not a word the resolver reads specially.
func ValidateVersion(v string) error {
	if err := ValidateName("version", v); err != nil {
		return err
	}
	if strings.EqualFold(v, Latest) {
		return fmt.Errorf("%w: version %q is reserved: it means the newest version; choose another", ErrInvalidName, v)
	}
	return nil
}

// Zoo is the model registry over a store. It holds no state of its own, so
// any number of Zoo values (and processes) may share one store.
type Zoo struct {
	store storage.Store
	now   func() time.Time
}

// New returns a zoo over store.
func New(store storage.Store) *Zoo { return &Zoo{store: store, now: time.Now} }

// Store is the backend the zoo reads and writes.
func (z *Zoo) Store() storage.Store { return z.store }

// ModelInfo is one model and its complete versions, oldest first.
type ModelInfo struct {
	Name     string     `json:"name"`
	Versions []Manifest `json:"versions"`
	Latest   string     `json:"latest"`
	// Broken lists versions whose manifest is damaged: they are left out
	// of Versions and Latest so the rest of the zoo keeps serving.
	Broken []BrokenVersion `json:"broken,omitempty"`
}

// BrokenVersion is a version that cannot be served, and why.
type BrokenVersion struct {
	Version string `json:"version"`
	Error   string `json:"error"`
}

func key(name, version, file string) string {
	return "models/" + name + "/" + version + "/" + file
}

// Create writes a new immutable version: it claims the version number,
// writes the weights, then the manifest. Until the manifest exists the
// version is invisible, so a crash at any point leaves no partial version.
// An empty m.Version takes the next integer.
func (z *Zoo) Create(ctx context.Context, m Manifest, tensors map[string]arch.Tensor) (Manifest, error) {
	if err := ValidateName("model name", m.Name); err != nil {
		return Manifest{}, err
	}
	switch m.DType {
	case "":
		m.DType = FP32
	case FP32, FP16:
	default:
		return Manifest{}, fmt.Errorf("dtype %q: use fp32 or fp16", m.DType)
	}
	if len(tensors) == 0 {
		return Manifest{}, fmt.Errorf("model %s: no tensors to store", m.Name)
	}
	// A version the zoo would refuse to read back must not be written.
	if err := m.Preprocess.Validate(); err != nil {
		return Manifest{}, fmt.Errorf("model %s: %w", m.Name, err)
	}
	version, err := z.claim(ctx, m.Name, m.Version)
	if err != nil {
		return Manifest{}, err
	}
	m.Version = version
	if m.Params == 0 {
		m.Params = arch.ParamCount(tensors)
	}

	// Encode and hash in one pass; the pipe keeps memory flat for large
	// models instead of holding a second copy of the weights.
	pr, pw := io.Pipe()
	h := sha256.New()
	var size countWriter
	go func() {
		pw.CloseWithError(writeSafetensors(io.MultiWriter(pw, h, &size), tensors, m.DType))
	}()
	m.WeightsFile = weightsFile
	if err := z.store.Put(ctx, key(m.Name, version, weightsFile), pr); err != nil {
		pr.CloseWithError(err)
		return Manifest{}, z.release(ctx, m.Name, version, fmt.Errorf("writing weights of %s:%s: %w", m.Name, version, err))
	}
	m.WeightsSHA256 = hex.EncodeToString(h.Sum(nil))
	m.WeightsSize = int64(size)
	m.CreatedAt = z.now().UTC()
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, z.release(ctx, m.Name, version, err)
	}
	// From here on a failed Put may still have stored the manifest (a lost
	// reply), so the claim is kept: a visible version's string must never
	// be handed out twice.
	if err := z.store.Put(ctx, key(m.Name, version, manifestFile), bytes.NewReader(mj)); err != nil {
		return Manifest{}, fmt.Errorf("writing manifest of %s:%s: %w", m.Name, version, err)
	}
	return m, nil
}

// release undoes a create that failed before its manifest was written:
// no reader can have seen the version, so its weights go and its claim is
// given back, and a retry of the same NAME:VERSION works. A crash instead
// of an error leaves both, and the version string is simply skipped.
func (z *Zoo) release(ctx context.Context, name, version string, cause error) error {
	ctx = context.WithoutCancel(ctx) // clean up even after a cancellation
	if err := z.store.Delete(ctx, key(name, version, weightsFile)); err != nil {
		return fmt.Errorf("%w (and removing the partial weights failed: %v)", cause, err)
	}
	if err := z.store.Delete(ctx, key(name, version, claimFile)); err != nil {
		return fmt.Errorf("%w (and releasing the version claim failed: %v)", cause, err)
	}
	return cause
}

// claim reserves a version number with PutIfAbsent, so that concurrent
// creators, in this process or another sharing the store, get distinct ones.
func (z *Zoo) claim(ctx context.Context, name, version string) (string, error) {
	if version != "" {
		if err := ValidateVersion(version); err != nil {
			return "", err
		}
		err := z.store.PutIfAbsent(ctx, key(name, version, claimFile), strings.NewReader(""))
		if errors.Is(err, storage.ErrExist) {
			return "", fmt.Errorf("%s:%s: %w (versions are immutable and never reused; choose another)", name, version, ErrVersionExists)
		}
		return version, err
	}
	keys, err := z.store.List(ctx, "models/"+name+"/")
	if err != nil {
		return "", err
	}
	next := 1
	for _, k := range keys {
		if n, err := strconv.Atoi(strings.Split(strings.TrimPrefix(k, "models/"+name+"/"), "/")[0]); err == nil && n >= next {
			next = n + 1
		}
	}
	for ; ; next++ {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		v := strconv.Itoa(next)
		err := z.store.PutIfAbsent(ctx, key(name, v, claimFile), strings.NewReader(""))
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, storage.ErrExist) {
			return "", fmt.Errorf("claiming version %s of %s: %w", v, name, err)
		}
	}
}

// Models lists every model with its complete versions, by name.
func (z *Zoo) Models(ctx context.Context) ([]ModelInfo, error) {
	keys, err := z.store.List(ctx, "models/")
	if err != nil {
		return nil, err
	}
	byName := map[string]*ModelInfo{}
	var names []string
	for _, k := range keys {
		parts := strings.Split(k, "/")
		if len(parts) != 4 || parts[3] != manifestFile {
			continue
		}
		name := parts[1]
		mi := byName[name]
		if mi == nil {
			mi = &ModelInfo{Name: name}
			byName[name] = mi
			names = append(names, name)
		}
		m, err := z.manifest(ctx, name, parts[2])
		switch {
		case errors.Is(err, ErrNotFound):
			// deleted since the listing
		case errors.Is(err, ErrBadManifest):
			mi.Broken = append(mi.Broken, BrokenVersion{Version: parts[2], Error: err.Error()})
		case err != nil:
			return nil, err
		default:
			mi.Versions = append(mi.Versions, m)
		}
	}
	sort.Strings(names)
	out := make([]ModelInfo, 0, len(names))
	for _, name := range names {
		mi := byName[name]
		if len(mi.Versions) == 0 && len(mi.Broken) == 0 {
			continue
		}
		sortVersions(mi.Versions)
		if n := len(mi.Versions); n > 0 {
			mi.Latest = mi.Versions[n-1].Version
		}
		out = append(out, *mi)
	}
	return out, nil
}

// Versions lists one model's complete versions, oldest first.
func (z *Zoo) Versions(ctx context.Context, name string) ([]Manifest, error) {
	if err := ValidateName("model name", name); err != nil {
		return nil, err
	}
	keys, err := z.store.List(ctx, "models/"+name+"/")
	if err != nil {
		return nil, err
	}
	var ms []Manifest
	for _, k := range keys {
		parts := strings.Split(k, "/")
		if len(parts) != 4 || parts[3] != manifestFile {
			continue
		}
		m, err := z.manifest(ctx, name, parts[2])
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrBadManifest) {
			continue // deleted since the listing, or damaged: Models reports those
		}
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	sortVersions(ms)
	return ms, nil
}

// sortVersions orders by creation time, then numerically, then by text.
func sortVersions(ms []Manifest) {
	sort.SliceStable(ms, func(i, j int) bool {
		if !ms[i].CreatedAt.Equal(ms[j].CreatedAt) {
			return ms[i].CreatedAt.Before(ms[j].CreatedAt)
		}
		a, errA := strconv.Atoi(ms[i].Version)
		b, errB := strconv.Atoi(ms[j].Version)
		if errA == nil && errB == nil {
			return a < b
		}
		return ms[i].Version < ms[j].Version
	})
}

func (z *Zoo) manifest(ctx context.Context, name, version string) (Manifest, error) {
	rc, err := z.store.Get(ctx, key(name, version, manifestFile))
	if errors.Is(err, storage.ErrNotExist) {
		return Manifest{}, fmt.Errorf("model %s version %s: %w", name, version, ErrNotFound)
	}
	if err != nil {
		return Manifest{}, err
	}
	defer rc.Close()
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(rc, 16<<20)).Decode(&m); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Manifest{}, fmt.Errorf("%s:%s: %w: %s: %v", name, version, ErrBadManifest, key(name, version, manifestFile), err)
		}
		return Manifest{}, fmt.Errorf("reading the manifest of %s:%s: %w", name, version, err)
	}
	if m.Name != name || m.Version != version {
		return Manifest{}, fmt.Errorf("%s:%s: %w: it names %s:%s", name, version, ErrBadManifest, m.Name, m.Version)
	}
	// The weights file name comes from the manifest; it must stay inside
	// the version.
	if m.WeightsFile != "" && ValidateName("weights file", m.WeightsFile) != nil {
		return Manifest{}, fmt.Errorf("%s:%s: %w: weights_file %q is not a plain file name", name, version, ErrBadManifest, m.WeightsFile)
	}
	// Convert bounds the preprocessing it writes; a manifest edited by
	// hand, or written before the bound, is refused here rather than
	// cost every request the memory of the size it names.
	if err := m.Preprocess.Validate(); err != nil {
		return Manifest{}, fmt.Errorf("%s:%s: %w: %v", name, version, ErrBadManifest, err)
	}
	return m, nil
}

// Resolve finds a version; "" or "latest" is the newest.
func (z *Zoo) Resolve(ctx context.Context, name, version string) (Manifest, error) {
	if err := ValidateName("model name", name); err != nil {
		return Manifest{}, err
	}
	if version != "" && version != "latest" {
		if err := ValidateName("version", version); err != nil {
			return Manifest{}, err
		}
		m, err := z.manifest(ctx, name, version)
		if errors.Is(err, ErrNotFound) {
			return Manifest{}, z.missingVersion(ctx, name, version)
		}
		return m, err
	}
	vs, err := z.Versions(ctx, name)
	if err != nil {
		return Manifest{}, err
	}
	if len(vs) == 0 {
		return Manifest{}, fmt.Errorf("model %s: %w", name, ErrNotFound)
	}
	return vs[len(vs)-1], nil
}

// shownVersions is how many version names a "no such version" error lists:
// the answer to a typo, not an inventory (GET /v1/models/NAME is that).
const shownVersions = 5

// missingVersion is the error for a version the model lacks. It names the
// newest few versions from a listing of the model's keys, without reading
// a manifest: a 404 must stay cheap however many versions a model has.
func (z *Zoo) missingVersion(ctx context.Context, name, version string) error {
	have, err := z.VersionNames(ctx, name)
	if err != nil || len(have) == 0 {
		return fmt.Errorf("model %s: %w", name, ErrNotFound)
	}
	shown := have[max(0, len(have)-shownVersions):]
	slices.Reverse(shown)
	list := strings.Join(shown, ", ")
	if more := len(have) - len(shown); more > 0 {
		list += fmt.Sprintf(" … and %d more", more)
	}
	return fmt.Errorf("model %s has no version %s (newest: %s): %w", name, version, list, ErrNotFound)
}

// VersionNames lists the versions of name that have a manifest, from the
// store's key listing alone: numbered versions in numeric order, then the
// others by text. It reads no manifest, so it neither checks them nor
// orders by creation time as Versions does.
func (z *Zoo) VersionNames(ctx context.Context, name string) ([]string, error) {
	if err := ValidateName("model name", name); err != nil {
		return nil, err
	}
	keys, err := z.store.List(ctx, "models/"+name+"/")
	if err != nil {
		return nil, err
	}
	var vs []string
	for _, k := range keys {
		parts := strings.Split(k, "/")
		if len(parts) == 4 && parts[3] == manifestFile {
			vs = append(vs, parts[2])
		}
	}
	slices.SortFunc(vs, func(a, b string) int {
		na, errA := strconv.Atoi(a)
		nb, errB := strconv.Atoi(b)
		switch {
		case errA == nil && errB == nil:
			return cmp.Compare(na, nb)
		case errA == nil:
			return -1
		case errB == nil:
			return 1
		}
		return strings.Compare(a, b)
	})
	return vs, nil
}

// Weights reads a version's tensors after checking them against the
// manifest's sha256, so a corrupted file is refused, not served.
func (z *Zoo) Weights(ctx context.Context, m Manifest) (map[string]arch.Tensor, error) {
	file := m.WeightsFile
	if file == "" {
		file = weightsFile
	}
	rc, err := z.store.Get(ctx, key(m.Name, m.Version, file))
	if err != nil {
		return nil, fmt.Errorf("weights of %s:%s: %w", m.Name, m.Version, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("reading weights of %s:%s: %w", m.Name, m.Version, err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != m.WeightsSHA256 {
		return nil, fmt.Errorf("%s:%s: %w: the manifest says sha256 %s, the file has %s; the version is refused (re-import it)", m.Name, m.Version, ErrChecksum, m.WeightsSHA256, got)
	}
	t, err := readSafetensors(b)
	if err != nil {
		return nil, fmt.Errorf("weights of %s:%s: %w", m.Name, m.Version, err)
	}
	return t, nil
}

// Delete removes a version: the manifest first, so the version disappears
// at once for every reader, then its weights. The claim stays, so the
// version string is never reused for other weights.
//
// A version with a damaged manifest can be deleted too: that is the way to
// get rid of it.
//
// version is taken literally, never as "the newest": a version stored under
// the reserved word "latest" (created before it was reserved) is deleted by
// that name.
func (z *Zoo) Delete(ctx context.Context, name, version string) error {
	if err := ValidateName("model name", name); err != nil {
		return err
	}
	if version == "" {
		return fmt.Errorf("%w: delete %s: name the version to delete", ErrInvalidName, name)
	}
	if err := ValidateName("version", version); err != nil {
		return err
	}
	m, err := z.manifest(ctx, name, version)
	switch {
	case errors.Is(err, ErrBadManifest):
		m = Manifest{Name: name, Version: version}
	case errors.Is(err, ErrNotFound):
		return z.missingVersion(ctx, name, version)
	case err != nil:
		return err
	}
	if err := z.store.Delete(ctx, key(name, version, manifestFile)); err != nil {
		return fmt.Errorf("deleting %s:%s: %w", name, version, err)
	}
	file := m.WeightsFile
	if file == "" {
		file = weightsFile
	}
	if err := z.store.Delete(ctx, key(name, version, file)); err != nil {
		return fmt.Errorf("deleting the weights of %s:%s: %w", name, version, err)
	}
	return nil
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// Clean removes what crashed creates left: the weights of versions that
// never got a manifest, once they are older than olderThan (younger ones
// may belong to a create still running, here or in another process). The
// claims stay, so those version strings are still never reused. It returns
// the NAME:VERSION of each version it cleaned.
func (z *Zoo) Clean(ctx context.Context, olderThan time.Duration) ([]string, error) {
	keys, err := z.store.List(ctx, "models/")
	if err != nil {
		return nil, err
	}
	type version struct{ name, version string }
	files := map[version][]string{}
	complete := map[version]bool{}
	for _, k := range keys {
		parts := strings.Split(k, "/")
		if len(parts) != 4 {
			continue
		}
		v := version{parts[1], parts[2]}
		switch parts[3] {
		case manifestFile:
			complete[v] = true
		case claimFile:
		default:
			files[v] = append(files[v], k)
		}
	}
	cutoff := z.now().Add(-olderThan)
	var cleaned []string
	for v, ks := range files {
		if complete[v] {
			continue
		}
		removed := false
		for _, k := range ks {
			info, err := z.store.Stat(ctx, k)
			if errors.Is(err, storage.ErrNotExist) || (err == nil && info.ModTime.After(cutoff)) {
				continue
			}
			if err != nil {
				return cleaned, err
			}
			if err := z.store.Delete(ctx, k); err != nil {
				return cleaned, fmt.Errorf("cleaning %s:%s: %w", v.name, v.version, err)
			}
			removed = true
		}
		if removed {
			cleaned = append(cleaned, v.name+":"+v.version)
		}
	}
	sort.Strings(cleaned)
	return cleaned, nil
}
