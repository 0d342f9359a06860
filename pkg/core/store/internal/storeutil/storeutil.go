// Package storeutil holds the argument checks and defaults the store
// implementations share, so sqlite and postgres reject and default the same
// inputs the same way (the conformance suite checks that they do).
package storeutil

import (
	"fmt"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// DefaultLimit is the page size of list queries when the caller gives none.
const DefaultLimit = 100

// MaxLimit caps list queries so one admin request cannot load the world.
const MaxLimit = 10000

// Limit applies DefaultLimit and MaxLimit.
func Limit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// Now is the store clock: UTC, microsecond precision, the precision both
// databases keep. Every time the stores write passes through Micro.
func Now() time.Time { return Micro(time.Now()) }

// Micro truncates t to microseconds in UTC; the zero time stays zero.
func Micro(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

var eventStatuses = map[store.EventStatus]bool{
	store.EventPending: true, store.EventDone: true, store.EventDead: true,
	store.EventParked: true, store.EventIgnored: true,
}

var actionStatuses = map[store.ActionStatus]bool{
	store.ActionPending: true, store.ActionSent: true, store.ActionRefused: true,
	store.ActionDead: true, store.ActionParked: true, store.ActionIgnored: true,
	store.ActionShadow: true,
}

// PrepareEvent checks e for InsertEvent and fills its defaults in place.
func PrepareEvent(e *store.Event, now time.Time) error {
	if e == nil {
		return fmt.Errorf("%w: nil event", store.ErrInvalid)
	}
	if e.Account == "" {
		return fmt.Errorf("%w: event without account", store.ErrInvalid)
	}
	if e.MessageID == "" {
		return fmt.Errorf("%w: event without message id", store.ErrInvalid)
	}
	if e.Status == "" {
		e.Status = store.EventPending
	}
	if !eventStatuses[e.Status] {
		return fmt.Errorf("%w: unknown event status %q", store.ErrInvalid, e.Status)
	}
	if e.ReceivedAt.IsZero() {
		e.ReceivedAt = now
	}
	e.ReceivedAt = Micro(e.ReceivedAt)
	e.ActionDate = Micro(e.ActionDate)
	e.NextAt = Micro(e.NextAt)
	e.HandledAt = Micro(e.HandledAt)
	return nil
}

// CheckOutcome validates an outcome for CompleteEvent and returns its actions
// with defaults filled (a copy: the caller's slice is not changed).
func CheckOutcome(out store.Outcome, eventID int64, account string, now time.Time) ([]store.OutboxAction, error) {
	switch out.Status {
	case store.EventDone, store.EventDead, store.EventParked:
	default:
		return nil, fmt.Errorf("%w: outcome status %q (want done, dead or parked)", store.ErrInvalid, out.Status)
	}
	acts := make([]store.OutboxAction, len(out.Actions))
	for i, a := range out.Actions {
		if a.IdempotencyKey == "" {
			return nil, fmt.Errorf("%w: action %d without idempotency key", store.ErrInvalid, i)
		}
		a.EventID = eventID
		if a.Account == "" {
			a.Account = account
		}
		if a.Status == "" {
			a.Status = store.ActionPending
		}
		if !actionStatuses[a.Status] {
			return nil, fmt.Errorf("%w: action %d: unknown status %q", store.ErrInvalid, i, a.Status)
		}
		if a.CreatedAt.IsZero() {
			a.CreatedAt = now
		}
		a.CreatedAt = Micro(a.CreatedAt)
		a.NextAt = Micro(a.NextAt)
		a.SentAt = Micro(a.SentAt)
		acts[i] = a
	}
	return acts, nil
}

// CheckFinal validates the status given to FinishAction.
func CheckFinal(st store.ActionStatus) error {
	switch st {
	case store.ActionSent, store.ActionRefused, store.ActionDead, store.ActionParked:
		return nil
	}
	return fmt.Errorf("%w: final action status %q (want sent, refused, dead or parked)", store.ErrInvalid, st)
}

// CheckOwner rejects an empty lease owner: an empty owner would match rows
// nobody holds.
func CheckOwner(owner string) error {
	if owner == "" {
		return fmt.Errorf("%w: empty lease owner", store.ErrInvalid)
	}
	return nil
}

// CheckLease validates ClaimEvents/ClaimActions arguments.
func CheckLease(owner string, lease time.Duration, limit int) error {
	if err := CheckOwner(owner); err != nil {
		return err
	}
	if lease <= 0 {
		return fmt.Errorf("%w: lease %v must be positive", store.ErrInvalid, lease)
	}
	if limit <= 0 {
		return fmt.Errorf("%w: claim limit %d must be positive", store.ErrInvalid, limit)
	}
	return nil
}

// Requeueable and Ignorable list the statuses RequeueX and IgnoreX accept.
var (
	RequeueableEvents  = []string{string(store.EventDead), string(store.EventParked), string(store.EventIgnored)}
	IgnorableEvents    = []string{string(store.EventDead), string(store.EventParked), string(store.EventIgnored)}
	RequeueableActions = []string{string(store.ActionDead), string(store.ActionParked), string(store.ActionRefused), string(store.ActionIgnored)}
	IgnorableActions   = []string{string(store.ActionDead), string(store.ActionParked), string(store.ActionRefused), string(store.ActionIgnored)}
)

// Contains reports whether s is in list.
func Contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// DeadStatuses resolves a DeadLetterFilter into the event and action
// statuses to list; an empty slice means that kind is not listed.
func DeadStatuses(f store.DeadLetterFilter) (events, actions []string, err error) {
	switch f.Kind {
	case "", "event", "action":
	default:
		return nil, nil, fmt.Errorf("%w: dead letter kind %q (want event or action)", store.ErrInvalid, f.Kind)
	}
	switch f.Status {
	case "":
		events = []string{string(store.EventDead), string(store.EventParked)}
		actions = []string{string(store.ActionDead), string(store.ActionParked)}
	case "dead", "parked", "ignored":
		events = []string{f.Status}
		actions = []string{f.Status}
	case "refused":
		actions = []string{f.Status}
	default:
		return nil, nil, fmt.Errorf("%w: dead letter status %q (want dead, parked, ignored or refused)", store.ErrInvalid, f.Status)
	}
	switch f.Kind {
	case "event":
		actions = nil
	case "action":
		events = nil
	}
	return events, actions, nil
}

// MergeDeadLetters merges two newest-first lists into one, newest first,
// cut to limit.
func MergeDeadLetters(evs []store.Event, acts []store.OutboxAction, limit int) []store.DeadLetter {
	out := make([]store.DeadLetter, 0, min(limit, len(evs)+len(acts)))
	i, j := 0, 0
	for len(out) < limit && (i < len(evs) || j < len(acts)) {
		takeEvent := j >= len(acts) || (i < len(evs) && !evs[i].ReceivedAt.Before(acts[j].CreatedAt))
		if takeEvent {
			e := evs[i]
			out = append(out, store.DeadLetter{Kind: "event", Event: &e})
			i++
		} else {
			a := acts[j]
			out = append(out, store.DeadLetter{Kind: "action", Action: &a})
			j++
		}
	}
	return out
}
