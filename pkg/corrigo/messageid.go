package corrigo

import (
	"context"

	"github.com/google/uuid"
)

// CorrigoPro asks for a client-generated MessageId on every call (a query
// parameter on GETs, a body property on PUT/POST) and echoes it in answers
// and in its usage log. A unique id per call lets a provider find one call
// among thousands; a prefix lets it find all of its own.

type messageIDKey struct{}

// WithMessageID returns a context whose calls use id as their MessageId
// instead of a generated one. The gateway derives ids from its idempotency
// keys this way, so a resent action carries the same MessageId as the first
// attempt. A call that sends several requests (GetWorkOrders with more than
// 50 ids) suffixes the id of every request after the first with "-2", "-3"…
func WithMessageID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, messageIDKey{}, id)
}

// MessageIDFrom returns the id set by WithMessageID, if any.
func MessageIDFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(messageIDKey{}).(string)
	return id, ok && id != ""
}

// NewMessageID returns prefix followed by a random (version 4) UUID.
func NewMessageID(prefix string) string {
	return prefix + uuid.NewString()
}
