package erprest

import (
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

// JobEnv is what the outbound templates see: the create body and path, the
// site key, lookup and create requests, and the accept comment. Field
// paths are type-checked against it when the plugin is configured.
type JobEnv struct {
	// WO is the work order (from the NewWorkOrder event, or fetched).
	WO corrigo.WorkOrder `expr:"wo"`
	// Event describes the event being handled.
	Event EventEnv `expr:"event"`
	// Account is the gateway's name for the CorrigoPro account.
	Account string `expr:"account"`
	// SiteKey is the value of site_key for this work order ("" when site
	// handling is off).
	SiteKey string `expr:"site_key"`
	// SiteID is the ERP's id of the site (known or just created, or
	// default_site_id); "" when site handling is off.
	SiteID string `expr:"site_id"`
	// JobID is the ERP job id once known (accept comment, lookup).
	JobID string `expr:"job_id"`
	// IdempotencyKey is the value sent in the idempotency header.
	IdempotencyKey string `expr:"idempotency_key"`
	// Response is the ERP's decoded JSON answer to the create request
	// (accept comment only; nil elsewhere).
	Response any `expr:"response"`
	// Now is the time of the request (UTC).
	Now time.Time `expr:"now"`
}

// EventEnv is the part of the event a template may use.
type EventEnv struct {
	ID        string    // the gateway's event id, stable across redeliveries
	Source    string    // webhook, poll, reconcile
	Action    string    // NewWorkOrder
	MessageID string    // CorrigoPro MessageId
	Date      time.Time // ActionDate (UTC)
}

// InboundEnv is what status_map expressions see for an ERP callback.
type InboundEnv struct {
	// Body is the callback's JSON body, decoded (objects are maps, numbers
	// float64).
	Body any `expr:"body"`
	// Status is the ERP status read at inbound_status_path.
	Status string `expr:"status"`
	// JobID is the ERP job id read at inbound_job_id_path.
	JobID string `expr:"job_id"`
	// WorkOrderID and Account are what the plugin stored for the job.
	WorkOrderID int64  `expr:"work_order_id"`
	Account     string `expr:"account"`
	// Header holds the callback's HTTP headers (canonical names, first
	// value).
	Header map[string]string `expr:"header"`
	// Now is when the callback is handled (UTC).
	Now time.Time `expr:"now"`
}
