package corrigo

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// Associates lists the technicians (CruMember) and subcontractors available
// to a branch; GET api/associates?branchId=.
func (c *Client) Associates(ctx context.Context, branchID int64) ([]Associate, error) {
	var resp AssociatesResponse
	q := url.Values{"branchId": {strconv.FormatInt(branchID, 10)}}
	if err := c.getWrapped(ctx, "api/associates", q, 0, "Associates", &resp); err != nil {
		return nil, err
	}
	return resp.Associates, nil
}

// bulk sends a bulk PUT. CorrigoPro answers an array: one element per work
// order processed, possibly several for a failed one (one per error).
func (c *Client) bulk(ctx context.Context, path string, body any, mid string) ([]BulkResult, error) {
	var out []BulkResult
	if err := c.sendJSON(ctx, http.MethodPut, path, body, mid, 0, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// BulkAccept accepts several work orders; PUT api/bulk/accept.
func (c *Client) BulkAccept(ctx context.Context, req BulkActionRequest) ([]BulkResult, error) {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.bulk(ctx, "api/bulk/accept", req, req.MessageId)
}

// BulkReject rejects several work orders; PUT api/bulk/reject.
func (c *Client) BulkReject(ctx context.Context, req BulkActionRequest) ([]BulkResult, error) {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.bulk(ctx, "api/bulk/reject", req, req.MessageId)
}

// BulkAssign assigns associates to work orders; PUT api/bulk/assign.
// Assigning an already assigned associate is a no-op; the work order status
// does not change.
func (c *Client) BulkAssign(ctx context.Context, req BulkAssignRequest) ([]BulkResult, error) {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.bulk(ctx, "api/bulk/assign", req, req.MessageId)
}

// BulkUnassign removes associates from work orders; PUT api/bulk/unassign
// [I: the path is inferred].
func (c *Client) BulkUnassign(ctx context.Context, req BulkAssignRequest) ([]BulkResult, error) {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.bulk(ctx, "api/bulk/unassign", req, req.MessageId)
}
