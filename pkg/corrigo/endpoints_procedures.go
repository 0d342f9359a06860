package corrigo

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// Procedures returns a work order's procedures; GET api/procedure.
func (c *Client) Procedures(ctx context.Context, workOrderID int64) ([]Procedure, error) {
	var resp ProceduresResponse
	if err := c.getJSON(ctx, "api/procedure", woQuery(workOrderID), workOrderID, &resp); err != nil {
		return nil, err
	}
	return resp.Procedures, nil
}

// ProcedureSteps returns the steps of one procedure; GET api/procedure/step.
func (c *Client) ProcedureSteps(ctx context.Context, workOrderID int64, procedureID int) ([]StepDescriptor, error) {
	var resp StepsResponse
	q := woQuery(workOrderID)
	q.Set("procedureId", strconv.Itoa(procedureID))
	if err := c.getWrapped(ctx, "api/procedure/step", q, workOrderID, "Steps", &resp); err != nil {
		return nil, err
	}
	return resp.Steps, nil
}

// UpdateProcedureStep updates a step's Status, Value, Comment or Currency;
// PUT api/procedure/step. Allowed while the work order is Accepted,
// CheckedIn, Paused or OnHold.
func (c *Client) UpdateProcedureStep(ctx context.Context, req StepUpdateRequest) error {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.sendJSON(ctx, http.MethodPut, "api/procedure/step", req, req.MessageId, req.WorkOrderId, nil)
}

// Equipment returns the equipment already on a work order; GET
// api/equipment.
func (c *Client) Equipment(ctx context.Context, workOrderID int64) ([]Equipment, error) {
	var resp EquipmentResponse
	if err := c.getJSON(ctx, "api/equipment", woQuery(workOrderID), workOrderID, &resp); err != nil {
		return nil, err
	}
	return resp.Equipment, nil
}

// AvailableEquipment returns the equipment assets that may be added; GET
// api/equipment/available.
func (c *Client) AvailableEquipment(ctx context.Context, workOrderID int64) ([]Equipment, error) {
	var resp EquipmentResponse
	if err := c.getJSON(ctx, "api/equipment/available", woQuery(workOrderID), workOrderID, &resp); err != nil {
		return nil, err
	}
	return resp.Equipment, nil
}

// AddEquipment adds equipment to a work order; POST api/equipment. Type
// "Existing" needs EquipmentAssetId; "Unknown" is an asset not in the list.
func (c *Client) AddEquipment(ctx context.Context, req EquipmentRequest) error {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.sendJSON(ctx, http.MethodPost, "api/equipment", req, req.MessageId, req.WorkOrderId, nil)
}

// EquipmentHistory returns the attribute history of a work order's
// equipment; GET api/equipment/history. The response shape is not
// documented, so it is returned raw.
func (c *Client) EquipmentHistory(ctx context.Context, workOrderID int64) (json.RawMessage, error) {
	var resp json.RawMessage
	if err := c.getJSON(ctx, "api/equipment/history", woQuery(workOrderID), workOrderID, &resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// AdditionalField is a work order's additional field value (API.md §2.4).
type AdditionalField struct {
	AdditionalField int    // the field's id
	FieldLabel      string `json:",omitempty"`
	URLLabel        string `json:",omitempty"`
	Value           string
}

// AdditionalFieldRequest is the body of PUT api/workOrder/additionalField
// [I: only the path is confirmed].
type AdditionalFieldRequest struct {
	WorkOrderId     int64
	AdditionalField AdditionalField
	Envelope
}

// AdditionalFieldHistoryEntry is one past value of an additional field.
// DtStemp is CorrigoPro's spelling.
type AdditionalFieldHistoryEntry struct {
	URLLabel  string `json:",omitempty"`
	Value     string
	DtStemp   Time   `json:",omitempty"`
	UpdatedBy string `json:",omitempty"`
}

// SetAdditionalField sets an additional field; PUT
// api/workOrder/additionalField.
func (c *Client) SetAdditionalField(ctx context.Context, req AdditionalFieldRequest) error {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.sendJSON(ctx, http.MethodPut, "api/workOrder/additionalField", req, req.MessageId, req.WorkOrderId, nil)
}

// AdditionalFieldHistory returns the history of one additional field; GET
// api/workOrder/AdditionalFieldHistory. The response is assumed to be
// {"AdditionalFieldHistory":[...]} [I].
func (c *Client) AdditionalFieldHistory(ctx context.Context, workOrderID int64, additionalFieldID int) ([]AdditionalFieldHistoryEntry, error) {
	var resp struct {
		AdditionalFieldHistory []AdditionalFieldHistoryEntry
	}
	q := woQuery(workOrderID)
	q.Set("additionalFieldId", strconv.Itoa(additionalFieldID))
	if err := c.getJSON(ctx, "api/workOrder/AdditionalFieldHistory", q, workOrderID, &resp); err != nil {
		return nil, err
	}
	return resp.AdditionalFieldHistory, nil
}

// IsmSettings returns a work order's ISM settings; GET
// api/workOrder/IsmSettings. The shape is undocumented, so it is raw JSON.
func (c *Client) IsmSettings(ctx context.Context, workOrderID int64) (json.RawMessage, error) {
	var resp json.RawMessage
	if err := c.getJSON(ctx, "api/workOrder/IsmSettings", woQuery(workOrderID), workOrderID, &resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// Health checks the API; GET api/health [I: the path is inferred from
// Celigo's "Get health" operation]. Any 2xx answer is healthy.
func (c *Client) Health(ctx context.Context) error {
	return c.getJSON(ctx, "api/health", url.Values{}, 0, nil)
}

// UpdateEquipment modifies equipment already on a work order (Equipment.Id
// names it); PUT api/equipment [I: Celigo lists "modify equipment"; the
// verb and body are inferred, the body is POST's].
func (c *Client) UpdateEquipment(ctx context.Context, req EquipmentRequest) error {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.sendJSON(ctx, http.MethodPut, "api/equipment", req, req.MessageId, req.WorkOrderId, nil)
}

// DeleteEquipment removes equipment (Equipment.Id) from a work order;
// DELETE api/equipment [I: Celigo lists "delete equipment"], with the
// request in a JSON body.
func (c *Client) DeleteEquipment(ctx context.Context, req EquipmentRequest) error {
	req.MessageId = c.messageID(ctx, req.MessageId)
	return c.sendJSON(ctx, http.MethodDelete, "api/equipment", req, req.MessageId, req.WorkOrderId, nil)
}

// Heartbeat is the API's heartbeat health check; GET api/heartbeat [I: the
// path is inferred from Celigo's "Get a heartbeat health check"
// operation]. Any 2xx answer is a beat.
func (c *Client) Heartbeat(ctx context.Context) error {
	return c.getJSON(ctx, "api/heartbeat", url.Values{}, 0, nil)
}
