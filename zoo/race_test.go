//go:build race

package zoo

// raceSlowdown scales time bounds: the race detector makes this code
// about eight times slower (14 ms against 115 ms for a 500-version listing).
const raceSlowdown = 8
