package corrigo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// MaxIDsPerGet is CorrigoPro's limit of work order ids per GET api/workOrder.
const MaxIDsPerGet = 50

// ErrWorkOrderNotFound is returned by GetWorkOrder when CorrigoPro answers
// without the requested work order.
var ErrWorkOrderNotFound = errors.New("corrigo: work order not found")

// getJSON sends a GET with the call's MessageId as a query parameter.
func (c *Client) getJSON(ctx context.Context, path string, q url.Values, woID int64, out any) error {
	return c.do(ctx, call{method: http.MethodGet, path: path, query: q, messageID: c.messageID(ctx, ""), workOrderID: woID, out: out})
}

// getWrapped is getJSON for an answer whose wrapper key is inferred [I]:
// a 200 answer without key fails with a *ShapeError (strict.go).
func (c *Client) getWrapped(ctx context.Context, path string, q url.Values, woID int64, key string, out any) error {
	return c.do(ctx, call{method: http.MethodGet, path: path, query: q, messageID: c.messageID(ctx, ""), workOrderID: woID, out: out, expect: key})
}

// sendJSON sends a PUT or POST whose body already carries mid.
func (c *Client) sendJSON(ctx context.Context, method, path string, body any, mid string, woID int64, out any) error {
	return c.do(ctx, call{method: method, path: path, body: body, messageID: mid, workOrderID: woID, out: out})
}

func woQuery(id int64) url.Values {
	return url.Values{"workOrderId": {strconv.FormatInt(id, 10)}}
}

// SearchWorkOrders finds work orders (basic fields only) matching p; POST
// api/workOrder/search. Fetch details with GetWorkOrders.
func (c *Client) SearchWorkOrders(ctx context.Context, p SearchParameters) ([]WorkOrderSummary, error) {
	req := SearchRequest{Parameters: p}
	req.MessageId = c.messageID(ctx, "")
	var resp SearchResponse
	if err := c.sendJSON(ctx, http.MethodPost, "api/workOrder/search", req, req.MessageId, 0, &resp); err != nil {
		return nil, err
	}
	return resp.WorkOrders, nil
}

// GetWorkOrders returns the full work orders with the given ids; GET
// api/workOrder?ids=..&ids=... CorrigoPro takes at most 50 ids per call, so
// longer lists are split into batches of 50, sent one after another, and the
// answers concatenated in order. The first failing batch ends the call.
func (c *Client) GetWorkOrders(ctx context.Context, ids []int64) ([]WorkOrder, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	override, hasOverride := MessageIDFrom(ctx)
	var all []WorkOrder
	for start, n := 0, 1; start < len(ids); start, n = start+MaxIDsPerGet, n+1 {
		end := min(start+MaxIDsPerGet, len(ids))
		q := url.Values{}
		for _, id := range ids[start:end] {
			q.Add("ids", strconv.FormatInt(id, 10))
		}
		mid := NewMessageID(c.prefix)
		if hasOverride {
			mid = override
			if n > 1 {
				mid += "-" + strconv.Itoa(n)
			}
		}
		var woID int64
		if end-start == 1 {
			woID = ids[start]
		}
		var resp WorkOrdersResponse
		if err := c.do(ctx, call{method: http.MethodGet, path: "api/workOrder", query: q, messageID: mid, workOrderID: woID, out: &resp}); err != nil {
			return all, err
		}
		all = append(all, resp.WorkOrders...)
	}
	return all, nil
}

// GetWorkOrder returns one full work order. It fails with an error matching
// ErrWorkOrderNotFound when CorrigoPro's answer does not contain it.
func (c *Client) GetWorkOrder(ctx context.Context, id int64) (*WorkOrder, error) {
	wos, err := c.GetWorkOrders(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	for i := range wos {
		if wos[i].WorkOrderId == id {
			return &wos[i], nil
		}
	}
	return nil, fmt.Errorf("%w: id %d", ErrWorkOrderNotFound, id)
}

// action sends one of the workflow PUTs that carry an ActionRequest.
func (c *Client) action(ctx context.Context, path string, req ActionRequest) error {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.sendJSON(ctx, http.MethodPut, path, req, req.MessageId, req.WorkOrderId, nil)
}

// Accept accepts a New work order; PUT api/workOrder/accept.
func (c *Client) Accept(ctx context.Context, req AcceptRequest) error {
	return c.action(ctx, "api/workOrder/accept", req)
}

// Reject rejects a work order; PUT api/workOrder/reject. CorrigoPro requires
// a Comment.
func (c *Client) Reject(ctx context.Context, req RejectRequest) error {
	return c.action(ctx, "api/workOrder/reject", req)
}

// CheckIn records arrival on site; PUT api/workOrder/checkIn.
func (c *Client) CheckIn(ctx context.Context, req CheckInRequest) error {
	return c.action(ctx, "api/workOrder/checkIn", req)
}

// Pause pauses work; PUT api/workOrder/pause. ActualActionDate (backdating)
// is only allowed when the customer permits it.
func (c *Client) Pause(ctx context.Context, req PauseRequest) error {
	return c.action(ctx, "api/workOrder/pause", req)
}

// Reopen reopens a work order; PUT api/workOrder/reopen.
func (c *Client) Reopen(ctx context.Context, req ReopenRequest) error {
	return c.action(ctx, "api/workOrder/reopen", req)
}

// CheckOut completes the work; PUT api/workOrder/checkOut. Which completion
// details are required depends on the customer's settings.
func (c *Client) CheckOut(ctx context.Context, req CheckOutRequest) error {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.sendJSON(ctx, http.MethodPut, "api/workOrder/checkOut", req, req.MessageId, req.WorkOrderId, nil)
}

// WorkDoneDetails sends completion details after an IVR check-out; PUT
// api/workOrder/workDoneDetails.
func (c *Client) WorkDoneDetails(ctx context.Context, req WorkDoneDetailsRequest) error {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.sendJSON(ctx, http.MethodPut, "api/workOrder/workDoneDetails", req, req.MessageId, req.WorkOrderId, nil)
}

// SubmitQuote submits a quote; PUT api/workOrder/quoteSubmit.
func (c *Client) SubmitQuote(ctx context.Context, req QuoteSubmitRequest) error {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.sendJSON(ctx, http.MethodPut, "api/workOrder/quoteSubmit", req, req.MessageId, req.WorkOrderId, nil)
}

// SetAppointmentInfo sets the appointment; PUT api/workOrder/appointmentInfo.
func (c *Client) SetAppointmentInfo(ctx context.Context, req AppointmentInfoRequest) error {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.sendJSON(ctx, http.MethodPut, "api/workOrder/appointmentInfo", req, req.MessageId, req.WorkOrderId, nil)
}

// AddNote sets the work order's internal note; PUT api/workOrder/note.
func (c *Client) AddNote(ctx context.Context, req NoteRequest) error {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.sendJSON(ctx, http.MethodPut, "api/workOrder/note", req, req.MessageId, req.WorkOrderId, nil)
}

// NoteHistory returns the history of the internal note; GET
// api/workOrder/noteHistory.
func (c *Client) NoteHistory(ctx context.Context, workOrderID int64) ([]NoteHistoryEntry, error) {
	var resp NoteHistoryResponse
	if err := c.getWrapped(ctx, "api/workOrder/noteHistory", woQuery(workOrderID), workOrderID, "NoteHistory", &resp); err != nil {
		return nil, err
	}
	return resp.NoteHistory, nil
}
