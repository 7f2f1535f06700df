//go:build race

package imaging

// raceEnabled: under the race detector sync.Pool drops a quarter of what
// is put back, so a pooled buffer is allocated again now and then and
// per-call allocation bounds do not hold.
const raceEnabled = true
