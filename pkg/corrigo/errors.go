package corrigo

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"
)

// Class says what a caller should do about a failed call. The gateway's
// retry policy is built on it: only Transient (and Auth, once, with a fresh
// token) is retried; Permanent goes to dead letters at once; NeedsPerson is
// parked with the reason.
type Class string

const (
	ClassTransient   Class = "transient"    // 5xx, 429, timeouts, connection errors: retry with backoff
	ClassAuth        Class = "auth"         // 401 / code 2000: refresh the token, retry once
	ClassValidation  Class = "validation"   // 400 / code 2100: the request is wrong; never retry
	ClassPermanent   Class = "permanent"    // business rule that will never pass (3001–3005, 3036, 3042, 3043, 3050–3052)
	ClassNeedsPerson Class = "needs_person" // business rule a person can resolve (3056 tax mismatch, 3000 generic)
	ClassNotFound    Class = "not_found"    // 404 outside the error body format
	ClassCanceled    Class = "canceled"     // the caller's context ended
)

// Error codes (API.md §5.1).
const (
	CodeInternal           = 1000
	CodeUnauthorized       = 2000
	CodeValidation         = 2100
	CodeBusinessRule       = 3000
	CodeInvalidState       = 3001
	CodePrebilledAccept    = 3002
	CodeEntityNotFound     = 3003
	CodeQuoteNotAllowed    = 3004
	CodeNotFoundOrRecalled = 3005
	CodeInvoiceNotEditable = 3036
	CodeCompositeTax       = 3042
	CodeUnknownLineItem    = 3043
	CodeInvoiceStatus      = 3050
	CodeNotCompleted       = 3051
	CodeInvoiceContent     = 3052
	CodeTaxMismatch        = 3056
)

// APIError is a failed CorrigoPro Direct call: the HTTP status, CorrigoPro's
// error body, the MessageId of the call and a hint from the getting-started
// guide where one applies.
type APIError struct {
	Method           string
	Path             string
	StatusCode       int
	Code             int
	Message          string
	ValidationErrors []ValidationError
	MessageId        string
	Hint             string
	// RetryAfter is the wait a 429 or 503 asked for in its Retry-After
	// header (0 when it had none). It is not capped here.
	RetryAfter time.Duration
}

// ErrRateLimited matches a *RateLimitError: a call the client's own rate
// limiter (Config.RateLimiter) held back. Nothing was sent.
var ErrRateLimited = errors.New("corrigo: held back by the client's rate limit")

// RateLimitError is a call not sent because the client's rate limiter
// would have made it wait longer than the call may take. Delay is when a
// token will be free. It classifies as transient, but it says nothing
// about CorrigoPro's health.
type RateLimitError struct {
	Delay time.Duration
}

func (e *RateLimitError) Error() string {
	return "corrigo: held back by the client's rate limit (next slot in " + e.Delay.Round(time.Millisecond).String() + ")"
}

// Is matches ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// ClassOf classifies any error returned by the client. Errors that are not
// APIErrors are network or context errors.
func ClassOf(err error) Class {
	if err == nil {
		return ""
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Class()
	}
	var te *TokenError
	if errors.As(err, &te) {
		return te.Class()
	}
	var se *ShapeError
	if errors.As(err, &se) {
		return se.Class()
	}
	if errors.Is(err, ErrWorkOrderNotFound) {
		return ClassNotFound
	}
	if errors.Is(err, ErrAttachmentTooLarge) {
		return ClassValidation
	}
	if errors.Is(err, context.Canceled) {
		return ClassCanceled
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ClassTransient
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ClassTransient
	}
	return ClassTransient
}

// Error implements error. It names the call, the code and CorrigoPro's
// message, then the validation errors and the guide's hint.
func (e *APIError) Error() string {
	s := "corrigo: " + e.Method + " " + e.Path + ": HTTP " + strconv.Itoa(e.StatusCode)
	if e.Code != 0 {
		s += " code " + strconv.Itoa(e.Code)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	for i, v := range e.ValidationErrors {
		if i == 0 {
			s += " ["
		} else {
			s += "; "
		}
		s += v.FieldName
		if v.ErrorType != "" {
			s += " (" + v.ErrorType + ")"
		}
		if v.Message != "" {
			s += ": " + v.Message
		}
		if i == len(e.ValidationErrors)-1 {
			s += "]"
		}
	}
	if e.MessageId != "" {
		s += " (MessageId " + e.MessageId + ")"
	}
	if e.RetryAfter > 0 {
		s += " (Retry-After " + e.RetryAfter.String() + ")"
	}
	if e.Hint != "" {
		s += " — hint: " + e.Hint
	}
	return s
}

// Class classifies the error; see Class.
func (e *APIError) Class() Class {
	switch {
	case e.StatusCode >= 200 && e.StatusCode < 300:
		// A success status other than 200 (Config.AcceptAny2xx): the call
		// may have taken effect, so it is neither retried nor dropped.
		return ClassNeedsPerson
	case e.StatusCode == 401 || e.Code == CodeUnauthorized:
		return ClassAuth
	case e.StatusCode == 429 || e.StatusCode >= 500 || e.Code == CodeInternal:
		return ClassTransient
	case e.Code == CodeValidation || (e.Code > 2100 && e.Code < 2200):
		return ClassValidation
	case e.Code == CodeTaxMismatch || e.Code == CodeBusinessRule:
		return ClassNeedsPerson
	case e.Code >= 3000 && e.Code < 4000:
		return ClassPermanent
	case e.StatusCode == 404:
		return ClassNotFound
	case e.StatusCode == 408:
		return ClassTransient
	case e.StatusCode >= 400:
		return ClassValidation
	}
	return ClassTransient
}

// Temporary reports whether retrying the same call later may succeed.
func (e *APIError) Temporary() bool { return e.Class() == ClassTransient }

// TokenError is a failed OAuth token request. OAuthError is the RFC 6749
// error code CorrigoPro returned ("invalid_client", "unsupported_grant_type").
type TokenError struct {
	StatusCode  int
	OAuthError  string
	Description string
	Err         error // transport error, if any
}

// Sentinel token errors, matched with errors.Is.
var (
	ErrInvalidClient        = errors.New("corrigo: invalid_client: the client id or secret is wrong or revoked")
	ErrUnsupportedGrantType = errors.New("corrigo: unsupported_grant_type: the token request must use grant_type=client_credentials")
)

func (e *TokenError) Error() string {
	s := "corrigo: token request failed"
	if e.StatusCode != 0 {
		s += ": HTTP " + strconv.Itoa(e.StatusCode)
	}
	if e.OAuthError != "" {
		s += ": " + e.OAuthError
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is matches the sentinel errors.
func (e *TokenError) Is(target error) bool {
	switch target {
	case ErrInvalidClient:
		return e.OAuthError == "invalid_client"
	case ErrUnsupportedGrantType:
		return e.OAuthError == "unsupported_grant_type"
	}
	return false
}

func (e *TokenError) Unwrap() error { return e.Err }

// Class: bad credentials (or a token URL that does not exist) are permanent
// until a person fixes the config; anything else (5xx, network) is transient.
func (e *TokenError) Class() Class {
	if e.StatusCode >= 500 || e.StatusCode == 429 || e.OAuthError == "server_error" || e.OAuthError == "temporarily_unavailable" {
		return ClassTransient
	}
	if e.OAuthError != "" || e.StatusCode == 400 || e.StatusCode == 401 || e.StatusCode == 404 {
		return ClassNeedsPerson
	}
	return ClassTransient
}
