package rules

import (
	"os"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/config"
	"go.yaml.in/yaml/v3"
)

// TestDocsExamples compiles every condition in docs/rules.md: each line of
// an ```expr block, and the rules of each ```yaml block, so the rule
// language's documentation cannot drift from the implementation.
func TestDocsExamples(t *testing.T) {
	b, err := os.ReadFile("../../../docs/rules.md")
	if err != nil {
		t.Fatal(err)
	}
	var block, lang string
	inBlock := false
	exprs, yamls := 0, 0
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case !inBlock && strings.HasPrefix(line, "```"):
			inBlock, lang, block = true, strings.TrimPrefix(line, "```"), ""
		case inBlock && line == "```":
			inBlock = false
			switch lang {
			case "expr":
				for _, cond := range strings.Split(strings.TrimSpace(block), "\n") {
					exprs++
					if _, err := Compile([]config.Rule{{Name: "doc", When: cond, Plugin: "p", File: "docs/rules.md"}}); err != nil {
						t.Errorf("docs condition %q: %v", cond, err)
					}
				}
			case "yaml":
				var doc struct{ Rules []config.Rule }
				if err := yaml.Unmarshal([]byte(block), &doc); err != nil {
					t.Errorf("docs yaml block: %v\n%s", err, block)
					continue
				}
				yamls++
				for i := range doc.Rules {
					doc.Rules[i].File = "docs/rules.md"
				}
				if _, err := Compile(doc.Rules); err != nil {
					t.Errorf("docs rules: %v", err)
				}
			}
		case inBlock:
			block += line + "\n"
		}
	}
	if exprs < 20 || yamls < 3 {
		t.Errorf("found %d expr lines and %d yaml blocks: did the doc move?", exprs, yamls)
	}
}
