package corrigo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
)

// MaxAttachmentBytes is CorrigoPro's attachment size limit (20 MB).
const MaxAttachmentBytes = 20 << 20

// ErrAttachmentTooLarge is returned, before anything is sent, for an
// attachment over MaxAttachmentBytes.
var ErrAttachmentTooLarge = errors.New("corrigo: attachment exceeds the 20 MB limit")

// AttachmentUpload is a file to attach with POST api/attachments.
type AttachmentUpload struct {
	WorkOrderId int64
	// Name is the file name, with its extension.
	Name string
	// DocumentType: Document, Picture, Signature, InvoicePrintout,
	// ServiceContract or Misc.
	DocumentType string
	// MessageVisibility: None, CruOnly, CruSubs, CruLeads, CruLead or All
	// (CorrigoPro's default when empty).
	MessageVisibility string
	// MimeType is mandatory, e.g. "image/jpeg".
	MimeType string
	// Content is read once, completely, before the request is sent (the
	// body must be replayable for the 401 retry).
	Content io.Reader
	// Size, if not zero, is checked against the limit before Content is
	// read and against the bytes actually read.
	Size int64
	// PerformedBy, if set, is sent as the PerformedBy form field, JSON
	// encoded ({"Name":..,"Phone":..}) [I: the field is truncated in the
	// docs].
	PerformedBy *Person
}

// Attachments lists a work order's attachments; GET api/attachments.
func (c *Client) Attachments(ctx context.Context, workOrderID int64) ([]Attachment, error) {
	var resp AttachmentsResponse
	if err := c.getJSON(ctx, "api/attachments", woQuery(workOrderID), workOrderID, &resp); err != nil {
		return nil, err
	}
	return resp.Attachments, nil
}

// UploadAttachment attaches a file to a work order; POST api/attachments as
// multipart/form-data. It returns CorrigoPro's AttachmentId. Files over 20
// MB are refused with ErrAttachmentTooLarge without a request. Not allowed
// for Rejected or Recalled work orders; attachments cannot be modified.
func (c *Client) UploadAttachment(ctx context.Context, a AttachmentUpload) (string, error) {
	return c.upload(ctx, "api/attachments", a)
}

func (c *Client) upload(ctx context.Context, path string, a AttachmentUpload) (string, error) {
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("corrigo: POST %s: %w", path, err)
	}
	switch {
	case a.Content == nil:
		return fail(errors.New("attachment has no Content"))
	case strings.TrimSpace(a.Name) == "":
		return fail(errors.New("attachment has no Name"))
	case strings.TrimSpace(a.MimeType) == "":
		return fail(errors.New("attachment has no MimeType (CorrigoPro requires it)"))
	case a.Size < 0:
		return fail(fmt.Errorf("attachment Size %d is negative", a.Size))
	case a.Size > c.maxUpload:
		return fail(fmt.Errorf("%w: %s is %d bytes", ErrAttachmentTooLarge, a.Name, a.Size))
	}
	content, err := io.ReadAll(io.LimitReader(a.Content, c.maxUpload+1))
	if err != nil {
		return fail(fmt.Errorf("read attachment %s: %w", a.Name, err))
	}
	if int64(len(content)) > c.maxUpload {
		return fail(fmt.Errorf("%w: %s is larger than %d bytes", ErrAttachmentTooLarge, a.Name, c.maxUpload))
	}
	if a.Size != 0 && int64(len(content)) != a.Size {
		return fail(fmt.Errorf("attachment %s: read %d bytes, Size says %d", a.Name, len(content), a.Size))
	}
	mid := c.messageID(ctx, "")
	fields := [][2]string{
		{"WorkOrderId", strconv.FormatInt(a.WorkOrderId, 10)},
		{"Name", a.Name},
		{"DocumentType", a.DocumentType},
		{"MessageVisibility", a.MessageVisibility},
		{"MimeType", a.MimeType},
		{"MessageId", mid},
	}
	if a.PerformedBy != nil {
		pb, err := json.Marshal(a.PerformedBy)
		if err != nil {
			return fail(err)
		}
		fields = append(fields, [2]string{"PerformedBy", string(pb)})
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	summary := map[string]any{"multipart": true, "Size": len(content)}
	for _, f := range fields {
		if f[1] == "" {
			continue
		}
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return fail(err)
		}
		summary[f[0]] = f[1]
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="File"; filename=%q`, a.Name))
	h.Set("Content-Type", a.MimeType)
	fw, err := mw.CreatePart(h)
	if err != nil {
		return fail(err)
	}
	if _, err := fw.Write(content); err != nil {
		return fail(err)
	}
	if err := mw.Close(); err != nil {
		return fail(err)
	}
	logBody, _ := json.Marshal(summary)
	var resp AttachmentUploadResponse
	err = c.do(ctx, call{
		method: http.MethodPost, path: path,
		raw: buf.Bytes(), contentType: mw.FormDataContentType(), logBody: logBody,
		messageID: mid, workOrderID: a.WorkOrderId, out: &resp,
	})
	if err != nil {
		return "", err
	}
	return resp.AttachmentId, nil
}

// AttachmentDownloadURL returns a URL the attachment can be downloaded
// from; GET api/attachments/downloadUrl?attachmentId=.
func (c *Client) AttachmentDownloadURL(ctx context.Context, attachmentID string) (string, error) {
	var resp DownloadURLResponse
	q := url.Values{"attachmentId": {attachmentID}}
	if err := c.getWrapped(ctx, "api/attachments/downloadUrl", q, 0, "Url", &resp); err != nil {
		return "", err
	}
	return resp.Url, nil
}

// Messages returns a work order's customer-visible messages; GET
// api/messages.
func (c *Client) Messages(ctx context.Context, workOrderID int64) ([]TextMessage, error) {
	var resp MessagesResponse
	if err := c.getJSON(ctx, "api/messages", woQuery(workOrderID), workOrderID, &resp); err != nil {
		return nil, err
	}
	return resp.Messages, nil
}

// PostMessage posts a message on a work order; POST api/messages. A message
// visible to the customer raises a flag the customer must clear.
func (c *Client) PostMessage(ctx context.Context, req PostMessageRequest) error {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.sendJSON(ctx, http.MethodPost, "api/messages", req, req.MessageId, req.WorkOrderId, nil)
}

// AttachmentUpdateRequest is the body of PUT api/attachments [I: Celigo
// lists "update attachment"; the verb, path and fields are inferred].
// CorrigoPro documents that attachments cannot be modified [C], so expect
// a refusal; delete the attachment and upload a new one instead.
type AttachmentUpdateRequest struct {
	WorkOrderId       int64
	AttachmentId      string
	Name              string `json:",omitempty"`
	MessageVisibility string `json:",omitempty"`
	Envelope
}

// AttachmentDeleteRequest is the body of DELETE api/attachments [I: Celigo
// lists "delete attachment"; the verb, path and fields are inferred].
type AttachmentDeleteRequest struct {
	WorkOrderId  int64
	AttachmentId string
	Envelope
}

// UpdateAttachment asks CorrigoPro to change an attachment's name or
// visibility; PUT api/attachments [I]. See AttachmentUpdateRequest.
func (c *Client) UpdateAttachment(ctx context.Context, req AttachmentUpdateRequest) error {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.sendJSON(ctx, http.MethodPut, "api/attachments", req, req.MessageId, req.WorkOrderId, nil)
}

// DeleteAttachment removes an attachment from a work order; DELETE
// api/attachments [I], with the request in a JSON body.
func (c *Client) DeleteAttachment(ctx context.Context, req AttachmentDeleteRequest) error {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.sendJSON(ctx, http.MethodDelete, "api/attachments", req, req.MessageId, req.WorkOrderId, nil)
}
