package testhttp

import (
	"bytes"
	"os"
	"testing"
)

// The Corrigo client is a module of its own and its tests cannot import
// this package, so they carry a copy (pkg/corrigo/internal/testhttp); the
// two stay identical.
func TestCorrigoCopyIsIdentical(t *testing.T) {
	ours, err := os.ReadFile("testhttp.go")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := os.ReadFile("../../pkg/corrigo/internal/testhttp/testhttp.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, theirs) {
		t.Fatal("pkg/corrigo/internal/testhttp/testhttp.go differs from internal/testhttp/testhttp.go: copy the change across")
	}
}
