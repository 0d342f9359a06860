//go:build race

package storetest

// raceEnabled shrinks the load tests under the race detector, which slows
// the transpiled SQLite engine down by more than an order of magnitude.
const raceEnabled = true
