//go:build !race

package zoo

const raceSlowdown = 1
