#!/usr/bin/env bash
# make dist: release archives of the gateway and the shipped plugins.
#
#   DIST_DIR  where the archives and SHA256SUMS go (default dist)
#   ARCHES    linux architectures (default "amd64 arm64")
#   VERSION   default: git describe (vX.Y.Z on a release tag)
#
# Reproducible: the same commit gives the same archive bytes. Binaries are
# static (CGO_ENABLED=0) and built with -trimpath; the archive's entries are
# sorted, owned by 0/0, and carry the commit's time; gzip writes no name or
# timestamp. The version is stamped with -ldflags, not from Go's VCS build
# info, because Go does not stamp builds in a git worktree
# (golang/go#58218): a clone and a worktree of one commit build the same
# bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022

GO=${GO:-go}
DIST_DIR=${DIST_DIR:-dist}
ARCHES=${ARCHES:-amd64 arm64}
VERSION=${VERSION:-$(git describe --tags --always --dirty --match 'v[0-9]*')}
EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
case "$VERSION" in *[!A-Za-z0-9._+-]*) echo "dist: VERSION '$VERSION' is not a file-name-safe version" >&2; exit 2;; esac

# The shipped plugins are the plugin commands directly under plugins/
# (the same rule as make plugins); demo and test programs sit deeper.
plugins=()
for p in plugins/*/main.go; do plugins+=("$(basename "$(dirname "$p")")"); done

mkdir -p "$DIST_DIR"
DIST_DIR=$(cd "$DIST_DIR" && pwd)
# DIST_DIR holds the last run's archives only, so that SHA256SUMS covers
# every archive beside it.
rm -f "$DIST_DIR"/wogate-*.tar.gz "$DIST_DIR/SHA256SUMS"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Pinned rather than inherited: GOFLAGS from the environment or go env
# (-race, -buildvcs, a GOAMD64 level) would change the bytes.
export GOFLAGS=-mod=readonly CGO_ENABLED=0 GOOS=linux GOAMD64=v1 GOARM64=v8.0
# The commit too: Go stamps none with -buildvcs=false (nor in a worktree).
commit=$(git rev-parse HEAD 2>/dev/null || true)
if [ -n "$commit" ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit+dirty"; fi
ldflags="-X main.version=$VERSION${commit:+ -X main.commit=$commit}"

# third_party_licenses prints the licence files of the Go toolchain and of
# every module compiled into the binaries for one architecture.
third_party_licenses() {
	local goroot mods
	goroot=$($GO env GOROOT)
	mods=$($GO list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}} {{.Dir}}{{end}}{{end}}' \
		./cmd/gateway "${plugins[@]/#/./plugins/}" | sort -u)
	printf 'Licences of the software compiled into the wogate binaries.\n'
	printf '\n================================================================\n'
	printf 'Go %s (standard library and runtime)\n\n' "$($GO env GOVERSION)"
	cat "$goroot/LICENSE"
	local path version dir found f
	while read -r path version dir; do
		[ -n "$path" ] || continue
		# The repository's own modules (the SDK and the Corrigo client,
		# replaced by their directories) are under the archive's LICENSE.
		case $path in github.com/wogate/wogate/*) continue;; esac
		printf '\n================================================================\n'
		printf '%s %s\n' "$path" "$version"
		found=0
		for f in $(cd "$dir" && ls | LC_ALL=C sort); do
			case "$(printf '%s' "$f" | tr '[:lower:]' '[:upper:]')" in
			LICENSE*|LICENCE*|COPYING*|NOTICE*|PATENTS*)
				[ -f "$dir/$f" ] || continue
				printf '\n--- %s\n\n' "$f"
				cat "$dir/$f"
				found=1;;
			esac
		done
		if [ $found = 0 ]; then echo "dist: no licence file in module $path $version ($dir)" >&2; return 1; fi
	done <<<"$mods"
}

archives=()
for arch in $ARCHES; do
	name="wogate-$VERSION-linux-$arch"
	root="$work/$name"
	mkdir -p "$root/bin" "$root/examples" "$root/contrib/systemd"
	echo "dist: building $name"
	GOARCH=$arch $GO build -trimpath -ldflags "$ldflags" -o "$root/bin/gateway" ./cmd/gateway
	for p in "${plugins[@]}"; do
		GOARCH=$arch $GO build -trimpath -o "$root/bin/$p" "./plugins/$p"
	done
	GOARCH=$arch third_party_licenses >"$root/THIRD_PARTY_LICENSES"
	install -m 0644 LICENSE NOTICE README.md CHANGELOG.md "$root/"
	install -m 0644 examples/config.yaml "$root/examples/"
	install -m 0644 contrib/systemd/wogate.service "$root/contrib/systemd/"
	chmod 0755 "$root/bin/"*
	tar --create --format=gnu --sort=name --numeric-owner --owner=0 --group=0 \
		--mtime="@$EPOCH" --mode='u+rwX,go+rX,go-w' -C "$work" "$name" |
		gzip -9 --no-name >"$DIST_DIR/$name.tar.gz"
	archives+=("$name.tar.gz")
done

# One SHA256SUMS per run, over this run's archives: `sha256sum -c
# SHA256SUMS` in the directory checks them.
(cd "$DIST_DIR" && sha256sum "${archives[@]}" >SHA256SUMS)
echo "dist: $DIST_DIR"
(cd "$DIST_DIR" && cat SHA256SUMS)
