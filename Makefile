# `pulumi preview` and `pulumi up` run the prebuilt bin/caa-azure
# (Pulumi.yaml: runtime.options.binary), so they start at once instead of
# compiling the program; `make` rebuilds it only when a source changed.
# -ldflags='-s -w' was measured (CONTRIBUTING.md, Performance): a third smaller
# binary that relinks a quarter faster. -trimpath was measured too and left
# out: it gains nothing more and changes every compile cache key, so the
# first build after `go test` would recompile the Azure SDKs (3 min, 5.7 GB).
GO       ?= go
BIN      := bin/caa-azure
# The hash of the sources, computed as stack.SourceHash does; the program
# refuses to run when the sources no longer match it (a stale binary).
# Without sha256sum (coreutils) the hash is empty and the check is off.
SOURCE_HASH = $(shell command -v sha256sum >/dev/null && find . -path ./.git -prune -o -path ./bin -prune -o -path ./tests -prune -o -path ./tools -prune -o -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) -print | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-64)
GOFLAGS_BUILD = -ldflags="-s -w -X caa-azure/stack.builtFrom=$(SOURCE_HASH)"
SOURCES  := $(shell find . -name '*.go' -not -name '*_test.go' -not -path './tests/*' -not -path './tools/*') go.mod go.sum

.PHONY: build test ci clean source-hash engine-test
build: $(BIN)

$(BIN): $(SOURCES)
	$(GO) build $(GOFLAGS_BUILD) -o $@ .

test:
	$(GO) test ./...

source-hash:
	@echo $(SOURCE_HASH)

ci:
	bash .ci/run

# The five runs under the real Pulumi engine against a local Kubernetes API
# server (tests/engine, CONTRIBUTING.md). The build script builds the CLI,
# the providers and the control plane into a cache outside the repository
# once (80-110 min on 2 cores), then reuses them (seconds).
engine-test:
	bash tools/engine/build.sh
	$(GO) test -tags engine ./tests/engine -v -timeout 30m

clean:
	rm -rf bin
