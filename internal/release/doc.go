// Package release holds the tests of what wogate ships besides its
// source: the `make dist` archives (scripts/dist.sh), the container image
// (Dockerfile) and the systemd unit (contrib/systemd). They build the real
// artefacts once per test binary and run them; -short skips them.
package release
