# `pulumi preview` and `pulumi up` run the prebuilt bin/caa-azure
# (Pulumi.yaml: runtime.options.binary), so they start at once instead of
# compiling the program; `make` rebuilds it only when a source changed.
# -ldflags='-s -w' was measured (CONTRIBUTING.md, Performance): a third smaller
# binary that relinks a quarter faster. -trimpath was measured too and left
# out: it gains nothing more and changes every compile cache key, so the
# first build after `go test` would recompile the Azure SDKs (3 min, 5.7 GB).
GO       ?= go
BIN      := bin/caa-azure
GOFLAGS_BUILD := -ldflags=-s\ -w
SOURCES  := $(shell find . -name '*.go' -not -name '*_test.go' -not -path './tests/*') go.mod go.sum

.PHONY: build test ci clean
build: $(BIN)

$(BIN): $(SOURCES)
	$(GO) build $(GOFLAGS_BUILD) -o $@ .

test:
	$(GO) test ./...

ci:
	bash .ci/run

clean:
	rm -rf bin
