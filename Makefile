# wogate — common tasks. `make run` starts the gateway on its embedded
# defaults; `make test` runs what CI runs.
GO        ?= go
BIN       := bin
PKGS      := ./...
# The gateway's module and the two it builds against through a replace
# (go.mod): the Corrigo client and the plugin SDK, each versioned on its
# own (docs/releasing.md). `go test ./...` at the root does not descend
# into them, so every target that checks code runs in each.
MODULES   := . pkg/corrigo pkg/pluginapi
# Short fuzzing budget per target in CI; raise locally: make fuzz FUZZTIME=2m
FUZZTIME  ?= 6s
# The version, commit and its time come from Go's build info (gateway
# version); -buildvcs=auto stamps them even where GOFLAGS turns them off.
# Go stamps nothing in a git worktree (.git is a file there): the commit
# is passed on, and used when the build info has none.
COMMIT    := $(shell git rev-parse HEAD 2>/dev/null)$(shell git status --porcelain 2>/dev/null | grep -q . && echo +dirty)
BUILDFLAGS := -buildvcs=auto -ldflags "-X main.commit=$(COMMIT)"

.PHONY: all build plugins run test test-short test-python vet fmt-check mod-check fuzz bench proto proto-check lint clean dist image

all: build

build: plugins
	$(GO) build $(BUILDFLAGS) -o $(BIN)/gateway ./cmd/gateway

plugins:
	@mkdir -p $(BIN)
	@for p in plugins/*/; do \
		if [ -f $$p/main.go ]; then $(GO) build -o $(BIN)/$$(basename $$p) ./$$p || exit 1; fi; \
	done

# The example config sends emergencies to the erp-rest plugin, which talks
# to a demo ERP on 127.0.0.1:9000; run it beside the gateway and stop both
# together. The gateway starts only once the demo ERP has bound its port: if
# it cannot (something else holds 9000), make run stops with its error
# rather than send the ERP calls to whatever is there.
run: build
	$(GO) build -o $(BIN)/demo-erp ./plugins/erp-rest/demo-erp
	@log=$$(mktemp); ./$(BIN)/demo-erp 2>$$log & erp=$$!; \
	trap 'kill $$erp 2>/dev/null; rm -f $$log' EXIT INT TERM; \
	for i in $$(seq 1 100); do \
		if grep -q listening $$log; then break; fi; \
		if ! kill -0 $$erp 2>/dev/null; then cat $$log >&2; echo "make run: the demo ERP did not start" >&2; exit 1; fi; \
		sleep 0.05; \
	done; \
	grep -q listening $$log || { cat $$log >&2; echo "make run: the demo ERP did not start within 5s" >&2; exit 1; }; \
	cat $$log >&2; \
	./$(BIN)/gateway run --config examples/config.yaml

vet:
	@for m in $(MODULES); do echo "go vet ($$m)"; (cd $$m && $(GO) vet $(PKGS)) || exit 1; done

# Each module builds on its own, and go mod tidy would change neither its
# go.mod nor its go.sum (the SDK's go line is what vendors inherit: tidy
# raises it when a dependency needs a newer Go).
mod-check:
	@for m in $(MODULES); do \
		echo "go build, go mod tidy -diff ($$m)"; \
		(cd $$m && $(GO) build ./... && $(GO) mod tidy -diff) || { echo "module $$m: does not build or is not tidy (run go mod tidy in $$m)"; exit 1; }; \
	done

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

test: fmt-check vet mod-check test-python
	@for m in $(MODULES); do echo "go test ($$m)"; (cd $$m && $(GO) test -race -shuffle=on -timeout 20m $(PKGS)) || exit 1; done
	$(MAKE) fuzz

# The Python SDK (sdk/python) and the Python example plugin. Their
# dependencies are Debian's packages (python3-grpcio, python3-protobuf,
# python3-cryptography), installed for Debian's interpreter, so that is the
# one used unless PYTHON says otherwise.
PYTHON ?= $(shell command -v /usr/bin/python3 || command -v python3)
test-python:
	$(PYTHON) -m unittest discover -s sdk/python -t sdk/python
	cd plugins/python-ticketing && $(PYTHON) -m unittest discover -s .

test-short:
	@for m in $(MODULES); do (cd $$m && $(GO) test -short $(PKGS)) || exit 1; done

# Every fuzz target runs for FUZZTIME (scripts/fuzz.sh; targets are
# discovered, not listed).
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) MODULES="$(MODULES)" scripts/fuzz.sh

bench:
	@for m in $(MODULES); do (cd $$m && $(GO) test -run='^$$' -bench=. -benchmem $(PKGS)) || exit 1; done

# Plugin protocol code generation, offline: protoc from Debian's
# protobuf-compiler (pinned below, because generated files embed protoc's
# version) and the Go generators pinned as tool dependencies in go.mod.
PROTOC_VERSION := 3.21.12
PROTO_FILES    := $(shell find proto -name '*.proto' 2>/dev/null | sort)

define protoc_gen
	@v=$$(protoc --version 2>/dev/null | awk '{print $$2}'); \
	if [ "$$v" != "$(PROTOC_VERSION)" ]; then \
		echo "protoc $(PROTOC_VERSION) required, found '$$v' (apt-get install protobuf-compiler)"; exit 1; fi
	protoc -I proto \
		--plugin=protoc-gen-go=$$($(GO) tool -n protoc-gen-go) \
		--plugin=protoc-gen-go-grpc=$$($(GO) tool -n protoc-gen-go-grpc) \
		--go_out=$(1) --go_opt=module=github.com/wogate/wogate \
		--go-grpc_out=$(1) --go-grpc_opt=module=github.com/wogate/wogate \
		$(PROTO_FILES)
endef

# The Python SDK's code: the same proto/ plus its restatement of
# go-plugin's broker, controller and the gRPC health service
# (sdk/python/protos), generated by Debian's python3-grpc-tools (which
# uses the protobuf 3.21 of python3-protobuf).
PY_GEN        := sdk/python/wogate_plugin/_gen
PY_PROTO_DIR  := sdk/python/protos
PY_PROTO_FILES := $(shell find $(PY_PROTO_DIR) -name '*.proto' 2>/dev/null | sort)
define python_gen
	@$(PYTHON) -c 'import grpc_tools' 2>/dev/null || { echo "$(PYTHON) cannot import grpc_tools (apt-get install python3-grpc-tools)"; exit 1; }
	@mkdir -p $(1)
	$(PYTHON) -m grpc_tools.protoc -I proto -I $(PY_PROTO_DIR) -I /usr/include \
		--python_out=$(1) --grpc_python_out=$(1) $(PROTO_FILES) $(PY_PROTO_FILES)
endef

# Regenerate pkg/pluginapi/internal/pluginpb and the Python SDK's code from proto/.
proto:
	$(call protoc_gen,.)
	rm -rf $(PY_GEN)
	$(call python_gen,$(PY_GEN))

# Fail when the committed generated code (Go or Python) is stale, when the
# protocol breaks buf's lint rules, or when it changed incompatibly since the
# last release tag (scripts/proto-compat.sh). buf is built from the module
# proxy on first use and cached, like golangci-lint.
BUF := $(GO) run github.com/bufbuild/buf/cmd/buf@v1.75.0

proto-check:
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	$(MAKE) --no-print-directory proto-gen-into OUT=$$tmp && \
	diff -ru pkg/pluginapi/internal/pluginpb $$tmp/pkg/pluginapi/internal/pluginpb && \
	diff -ru -x __pycache__ $(PY_GEN) $$tmp/py && echo "generated protocol code is up to date"
	@BUF="$(BUF)" scripts/proto-compat.sh

proto-gen-into:
	$(call protoc_gen,$(OUT))
	$(call python_gen,$(OUT)/py)

lint:
	@for m in $(MODULES); do (cd $$m && $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0 run ./...) || exit 1; done

clean:
	rm -rf $(BIN) dist

# Release archives (docs/releasing.md): static linux/amd64 and linux/arm64
# builds of the gateway and the shipped plugins with the licence, README,
# example config and systemd unit, and SHA256SUMS; reproducible from the
# commit. make dist ARCHES=amd64 builds one.
VERSION ?= $(shell git describe --tags --always --dirty --match 'v[0-9]*')
ARCHES  ?= amd64 arm64
DIST_DIR ?= dist
dist:
	GO=$(GO) VERSION=$(VERSION) ARCHES="$(ARCHES)" DIST_DIR=$(DIST_DIR) scripts/dist.sh

# The container image (Dockerfile) from the release archive of this
# machine's architecture, with buildah and no registry. IMAGE names it;
# BUILDAH=docker build works too (it ignores --format).
IMAGE      ?= wogate:dev
IMAGE_ARCH ?= $(shell $(GO) env GOARCH)
BUILDAH    ?= buildah --storage-driver vfs bud --format docker
image:
	$(MAKE) --no-print-directory dist ARCHES=$(IMAGE_ARCH)
	cp /etc/ssl/certs/ca-certificates.crt dist/ca-certificates.crt
	$(BUILDAH) --build-arg VERSION=$(VERSION) --build-arg TARGETARCH=$(IMAGE_ARCH) -t $(IMAGE) .

# Gateway benchmarks (docs/performance.md): webhook ingest beside bare
# net/http handlers, and the end-to-end pipeline (sandbox webhook → gateway →
# rule → plugin → action recorded by the sandbox). Set WOGATE_TEST_POSTGRES
# to include PostgreSQL; WOGATE_BENCH_TRACE=1 prints progress and store
# call timings.
.PHONY: bench-gateway bench-procs
bench-gateway:
	$(GO) test ./bench -run '^$$' -bench 'Ingest' -benchtime 20000x
	$(GO) test ./bench -run '^$$' -bench 'EndToEnd' -benchtime 5000x

# The gateway as it is deployed: `gateway run` and its plugin, a load
# generator and a stand-in CorrigoPro, each its own process; CPU per event
# and peak RSS per process (docs/performance.md, "Separate processes").
# Compare two builds round by round: make bench-procs PROCBENCH_ARGS='-gateway /tmp/gw-old -vs /tmp/gw-new -rounds 5'
PROCBENCH_ARGS ?= -events 20000 -rounds 3
bench-procs: build
	$(GO) build -o $(BIN)/procbench ./bench/procbench
	./$(BIN)/procbench -gateway $(BIN)/gateway $(PROCBENCH_ARGS)

# The crash test of docs/reliability.md at full size: 5000 webhooks with
# duplicates and out-of-order redeliveries, 12 SIGKILLs of `gateway run`,
# then the plugin-crash variant, and the supervisor test with 400 + 200
# work orders (3000 webhooks). `make test` runs a smaller size. Rerun a
# failed run with the seed it logged: make crash-test CRASH_SEED=n
CRASH_EVENTS ?= 5000
CRASH_KILLS  ?= 12
CRASH_SEED   ?=
SUPERVISOR_WORK_ORDERS ?= 400
.PHONY: crash-test
crash-test:
	WOGATE_CRASH_EVENTS=$(CRASH_EVENTS) WOGATE_CRASH_KILLS=$(CRASH_KILLS) WOGATE_CRASH_SEED=$(CRASH_SEED) \
		WOGATE_SUPERVISOR_WORK_ORDERS=$(SUPERVISOR_WORK_ORDERS) \
		$(GO) test -count=1 -v -timeout 30m -run '^(TestCrash|TestSupervisorUnderLoad$$)' ./e2e
