# wogate — common tasks. `make run` starts the gateway on its embedded
# defaults; `make test` runs what CI runs.
GO        ?= go
BIN       := bin
PKGS      := ./...
# Short fuzzing budget per target in CI; raise locally: make fuzz FUZZTIME=2m
FUZZTIME  ?= 10s
LDFLAGS   := -X main.version=$(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build plugins run test test-short vet fmt-check fuzz bench proto proto-check lint clean

all: build

build: plugins
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/gateway ./cmd/gateway

plugins:
	@mkdir -p $(BIN)
	@for p in plugins/*/; do \
		if [ -f $$p/main.go ]; then $(GO) build -o $(BIN)/$$(basename $$p) ./$$p || exit 1; fi; \
	done

run: build
	./$(BIN)/gateway run --config examples/config.yaml

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

test: fmt-check vet
	$(GO) test -race -shuffle=on -timeout 20m $(PKGS)
	$(MAKE) fuzz

test-short:
	$(GO) test -short $(PKGS)

# Every fuzz target runs for FUZZTIME. Targets are discovered, not listed.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
		dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
		for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done

bench:
	$(GO) test -run='^$$' -bench=. -benchmem $(PKGS)

lint:
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0 run ./...

clean:
	rm -rf $(BIN)
