package typo

import (
	"bytes"
	"os"
	"testing"
)

// The plugin SDK is a module of its own and cannot import this package, so
// it carries a copy (pkg/pluginapi/internal/typo); the two stay identical.
func TestSDKCopyIsIdentical(t *testing.T) {
	ours, err := os.ReadFile("typo.go")
	if err != nil {
		t.Fatal(err)
	}
	sdk, err := os.ReadFile("../../pkg/pluginapi/internal/typo/typo.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, sdk) {
		t.Fatal("pkg/pluginapi/internal/typo/typo.go differs from internal/typo/typo.go: copy the change across")
	}
}
