package corrigo

import (
	"context"
	"net/http"
)

// GetInvoice returns a work order's invoice; GET api/invoice?workOrderId=.
func (c *Client) GetInvoice(ctx context.Context, workOrderID int64) (*Invoice, error) {
	var resp InvoiceResponse
	if err := c.getJSON(ctx, "api/invoice", woQuery(workOrderID), workOrderID, &resp); err != nil {
		return nil, err
	}
	return &resp.Invoice, nil
}

// UpdateInvoice replaces the invoice; PUT api/invoice. Line items the
// update does not reference by Id are deleted by CorrigoPro, so send the
// whole invoice. It returns the invoice CorrigoPro answers with, or the sent
// one when the answer carries none.
func (c *Client) UpdateInvoice(ctx context.Context, inv Invoice) (*Invoice, error) {
	req := InvoiceUpdateRequest{Invoice: inv}
	req.MessageId = c.messageID(ctx, "")
	var resp struct {
		Invoice *Invoice
	}
	if err := c.sendJSON(ctx, http.MethodPut, "api/invoice", req, req.MessageId, inv.WorkOrderId, &resp); err != nil {
		return nil, err
	}
	if resp.Invoice == nil {
		return &inv, nil
	}
	return resp.Invoice, nil
}

// SubmitInvoice submits the invoice; PUT api/invoice/submit. After a 3056
// tax mismatch, a person may resubmit with SubmitAnyway.
func (c *Client) SubmitInvoice(ctx context.Context, req InvoiceSubmitRequest) error {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.sendJSON(ctx, http.MethodPut, "api/invoice/submit", req, req.MessageId, req.WorkOrderId, nil)
}

// PriceList returns the customer's price list for a work order, used for
// invoice and quote line items; GET api/invoice/pricelist.
func (c *Client) PriceList(ctx context.Context, workOrderID int64) ([]PriceListItem, error) {
	var resp PriceListResponse
	if err := c.getWrapped(ctx, "api/invoice/pricelist", woQuery(workOrderID), workOrderID, "PriceList", &resp); err != nil {
		return nil, err
	}
	return resp.PriceList, nil
}

// InvoiceAttachments lists the invoice's attachments; GET
// api/invoice/attachments.
func (c *Client) InvoiceAttachments(ctx context.Context, workOrderID int64) ([]Attachment, error) {
	var resp AttachmentsResponse
	if err := c.getJSON(ctx, "api/invoice/attachments", woQuery(workOrderID), workOrderID, &resp); err != nil {
		return nil, err
	}
	return resp.Attachments, nil
}

// UploadInvoiceAttachment attaches a file to the invoice; POST
// api/invoice/attachments, with the same rules as UploadAttachment.
func (c *Client) UploadInvoiceAttachment(ctx context.Context, a AttachmentUpload) (string, error) {
	return c.upload(ctx, "api/invoice/attachments", a)
}
