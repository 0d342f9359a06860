// Package assemble builds, from a loaded configuration, the pieces that a
// running gateway (pkg/core/gateway) and `gateway replay`
// (pkg/core/replay) both use, so that the two run plugins and read the
// store the same way: the plugin specs (PluginSpecs), the host services
// plugins call back into (Host) and the store (OpenStore, read-write or
// read-only; CheckStore for `gateway store check`).
//
// It only builds: it never starts a plugin, serves a request, runs a stage
// or decides an event (that is pkg/core/decide), keeps no state between
// calls, and imports no stage (ingest, dispatch, egress) and not the
// composition root. What it returns, its caller runs and closes.
package assemble
