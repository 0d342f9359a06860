// Package ruletest runs rule unit tests: YAML files of cases kept next to
// the gateway's configuration (by default <config dir>/tests/*.yaml), run by
// `gateway test`.
//
// A case names an event (a CorrigoPro notification fixture, an inline
// notification, or a work order turned into a NewWorkOrder event), mocks the
// answers of the plugins the matching rules call, and states what must come
// out: which rules match, whether evaluation stopped, which actions would go
// to CorrigoPro and which the action guard would refuse.
//
// Cases run through the same code the gateway runs, not a re-implementation:
// the configuration is loaded by pkg/core/config, and the event is decided by
// dispatch.Decide (as gateway replay decides recorded events) with the
// gateway's evaluator and plugin error verdicts (pkg/core/decide): the same
// rule evaluation, work order fetched only when a rule for the event's
// action reads it, action validation and idempotency as a running gateway.
// The status and completion rules are those of egress.Guard. Only the
// outside world is replaced: plugins answer what the case mocks, and
// CorrigoPro's work order and customer settings are what the case gives.
//
// The file format is documented in docs/integrators.md.
package ruletest
