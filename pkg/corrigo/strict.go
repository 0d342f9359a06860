package corrigo

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// This file holds the client's checks of successful answers. CorrigoPro's
// documentation says "every response with HTTP status code other than
// 200 should be considered erroneous" [C], and the wrapper keys of some
// answers (Settings, Associates, Steps, PriceList, NoteHistory, Url) are
// inferred [I]: a different real key would decode to an empty value with
// no error, which for customerSettings silently turns the guard's checks
// off. Both become errors an operator sees, in the error and in the
// Observer's exchange (the communication log).

// ShapeError is a 200 answer that has none of the keys the client
// expects. The message names the call, the key expected and the keys the
// answer has (names only, never values).
type ShapeError struct {
	Method, Path string
	StatusCode   int
	// Want is the key expected; Got are the answer's top-level keys
	// (sorted, at most 20), empty when the body is empty or not an object.
	Want      string
	Got       []string
	MessageId string
}

func (e *ShapeError) Error() string {
	got := "an empty or non-object body"
	if len(e.Got) > 0 {
		got = "keys " + strings.Join(e.Got, ", ")
	}
	s := "corrigo: " + e.Method + " " + e.Path + ": HTTP " + strconv.Itoa(e.StatusCode) + " answer has no " + strconv.Quote(e.Want) + " key (it has " + got + ")"
	if e.MessageId != "" {
		s += " (MessageId " + e.MessageId + ")"
	}
	return s + " — the key is inferred [I] (docs/corrigo-client.md): CorrigoPro's answer differs from what this client expects; report it with the communication log entry"
}

// Class is ClassNeedsPerson: the answer will not change by retrying.
func (e *ShapeError) Class() Class { return ClassNeedsPerson }

// ErrUnexpectedShape matches a *ShapeError.
var ErrUnexpectedShape = errors.New("corrigo: the answer lacks the expected key")

// Is matches ErrUnexpectedShape.
func (e *ShapeError) Is(target error) bool { return target == ErrUnexpectedShape }

// successError checks a 2xx answer: a status other than 200 (unless the
// client accepts any 2xx) and, for calls whose wrapper key is inferred,
// the key's presence. nil: the answer is good.
func (c *Client) successError(cl call, status int, body []byte, hdr http.Header) error {
	if status != http.StatusOK && !c.acceptAny2xx {
		e := c.apiError(cl, status, body, hdr)
		e.Code = 0
		e.Message = "CorrigoPro answered HTTP " + strconv.Itoa(status) + " " + http.StatusText(status) +
			" instead of 200; its documentation says every answer other than 200 is an error"
		e.Hint = "the call may or may not have taken effect: check the work order in CorrigoPro before resolving this; " +
			"set corrigo.accept_any_2xx: true to take every 2xx as success"
		return e
	}
	if cl.expect == "" {
		return nil
	}
	var m map[string]json.RawMessage
	trimmed := strings.TrimSpace(string(body))
	if trimmed != "" && trimmed[0] == '{' {
		if err := json.Unmarshal(body, &m); err != nil {
			return nil // not JSON: the decode that follows says so
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if strings.EqualFold(k, cl.expect) {
			return nil // json.Unmarshal matches keys case-insensitively too
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 20 {
		keys = append(keys[:20], fmt.Sprintf("… %d more", len(m)-20))
	}
	return &ShapeError{Method: cl.method, Path: cl.path, StatusCode: status, Want: cl.expect, Got: keys, MessageId: cl.messageID}
}
