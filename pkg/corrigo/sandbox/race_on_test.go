//go:build race

package sandbox_test

// raceEnabled skips the slowest byte-crunching checks under the race
// detector, which slows multipart parsing of a 20 MB body twentyfold.
const raceEnabled = true
