package corrigo

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestShapeErrorEveryInferredKey: each call whose wrapper key is inferred
// fails with a *ShapeError on a 200 answer without it (another key, an
// empty object, an empty body), and succeeds with it.
func TestShapeErrorEveryInferredKey(t *testing.T) {
	f := newClientFake(t)
	c := f.client()
	ctx := context.Background()
	calls := map[string]func() error{
		"Settings":    func() error { _, err := c.CustomerSettings(ctx, 1); return err },
		"Associates":  func() error { _, err := c.Associates(ctx, 1); return err },
		"Steps":       func() error { _, err := c.ProcedureSteps(ctx, 1, 2); return err },
		"PriceList":   func() error { _, err := c.PriceList(ctx, 1); return err },
		"NoteHistory": func() error { _, err := c.NoteHistory(ctx, 1); return err },
		"Url":         func() error { _, err := c.AttachmentDownloadURL(ctx, "a1"); return err },
	}
	for key, call := range calls {
		for _, body := range []string{`{"Result":{},"MessageId":"m"}`, `{}`, ``, `[]`} {
			f.setHandler(respondJSON(200, body))
			err := call()
			var se *ShapeError
			if !errors.As(err, &se) || se.Want != key {
				t.Errorf("%s, answer %q: %v", key, body, err)
				continue
			}
			if body == `{"Result":{},"MessageId":"m"}` && strings.Join(se.Got, ",") != "MessageId,Result" {
				t.Errorf("%s: got keys %v", key, se.Got)
			}
		}
		f.setHandler(respondJSON(200, `{"`+key+`":null}`))
		if err := call(); err != nil {
			t.Errorf("%s present (null): %v", key, err)
		}
	}
	// Calls whose keys are confirmed are not checked this way.
	f.setHandler(respondJSON(200, `{}`))
	if _, err := c.Customers(ctx); err != nil {
		t.Errorf("customers: %v", err)
	}
}
