// Package pluginapi is the SDK for wogate plugins.
//
// A plugin is a small program that receives CorrigoPro events from the
// gateway and answers with typed actions (accept, check in, invoice, ...).
// It implements Plugin (and optionally InboundHandler) and calls Serve from
// main; the gateway starts it as a child process and talks to it over
// gRPC through hashicorp/go-plugin. Protocol types never appear in this
// package's API: plugin authors see Go types only.
//
// Lifecycle: Describe → ValidateConfig → Configure → HandleEvent … → Stop.
// The gateway may restart a crashed plugin at any time; a restarted process
// is configured again before it receives events, so plugins keep durable
// state in the Host's key-value store, not in memory.
//
// # What a plugin uses
//
//   - Serve, with the options WithLogLevel, WithMaxMessageSize and
//     WithMaxProcs: the plugin's main.
//   - Plugin (Describe, ValidateConfig, Configure, HandleEvent, Stop) and,
//     for HTTP calls from the plugin's own system, InboundHandler with
//     InboundRequest and InboundResponse.
//   - Info and its Schema of Fields (FieldType: TypeString, TypeInt, ...):
//     the config keys the SDK checks before Configure.
//   - Config (from ParseConfig): typed access to the validated config,
//     with ConfigError and ConfigErrors naming the key at fault.
//   - Event (with its *corrigo.WorkOrder) in, Action of an ActionKind
//     (KindAccept, KindNote, ...) out; AllKinds lists them.
//   - Error and its constructors RetryLater, RetryAfter, Permanent and
//     NeedsPerson: what the gateway should do with an event that failed;
//     AsError reads any error as one.
//   - Host (work orders, customer settings, a key-value store, Log),
//     ErrNotFound, and the optional ActionSubmitter with its limits
//     MaxSubmitKeyBytes and MaxSubmitActions.
//   - Logger, a slog.Logger whose lines the gateway re-logs; Traceparent
//     (and TraceparentKey) to continue the gateway's trace.
//   - ProtocolVersion, SDKVersion and DefaultMaxMessageSize, for reference.
//   - Package plugintest, to test a plugin in process; RemoteInfo is what
//     its Client.Describe returns.
//
// Package pluginapi/host is the gateway's side of the protocol (the
// go-plugin handshake, plugin sets, dispensing a plugin): plugin authors
// do not need it.
//
// The SDK is its own Go module, github.com/wogate/wogate/pkg/pluginapi,
// versioned apart from the gateway (tags pkg/pluginapi/vX.Y.Z); a plugin
// depends on it with
//
//	go get github.com/wogate/wogate/pkg/pluginapi@latest
package pluginapi
