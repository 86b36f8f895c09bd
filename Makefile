# out_websocket: a Fluent Bit output plugin in Go, built as a shared object.

PLUGIN_NAME ?= websocket_go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
GO          ?= go
CC          ?= gcc
SO          := out_websocket.so
HOST        := test/flbhost/flbhost
DIST        := dist
GOFILES     := $(shell find . -name '*.go')
LDFLAGS     := -X main.pluginName=$(PLUGIN_NAME) -X main.pluginVersion=$(VERSION)

# The C compiler of each release architecture: Debian names cross and native
# compilers alike, so the same names work on an amd64 or an arm64 machine.
CC_amd64  := x86_64-linux-gnu-gcc
CC_arm64  := aarch64-linux-gnu-gcc
DEB_amd64 := gcc-x86-64-linux-gnu
DEB_arm64 := gcc-aarch64-linux-gnu

export CGO_ENABLED := 1

# $(call need-deb,CHECK,PACKAGES): when the shell command CHECK fails, install
# the Debian PACKAGES if this is root with apt-get, else stop with the command
# that installs them.
need-deb = $(1) >/dev/null 2>&1 || { \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(2) with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
	else \
		echo "error: this needs the Debian package(s) $(2); install them with: sudo apt-get install -y $(2)" >&2; exit 1; \
	fi; }

.PHONY: build host test test-deps demo dist bench bench-encoder fuzz lint clean check-cc

build: $(SO)

check-cc:
	@command -v $(CC) >/dev/null 2>&1 || { echo "error: '$(CC)' not found: cgo needs a C compiler to build $(SO) (Debian: apt-get install gcc)" >&2; exit 1; }

$(SO): check-cc $(GOFILES) go.mod go.sum
	$(GO) build -buildmode=c-shared -ldflags "$(LDFLAGS)" -o $(SO) .

host: check-cc
	$(MAKE) -C test/flbhost

# A WebSocket server written by others (Python's websockets) for the
# interoperability test.
test-deps:
	@$(call need-deb,/usr/bin/python3 -c 'import websockets',python3-websockets)

# Unit tests, then the plugin end to end inside the test host, and the
# release artifacts (test/e2e/dist_test.go).
test: build host dist test-deps
	$(GO) test -count=1 -timeout 20m ./...

demo: build host
	$(GO) run ./test/demo -conf conf/fluent-bit.conf -host $(HOST) -plugin ./$(SO)

# Release artifacts: one stripped, reproducible .so per architecture, named
# for the version, and their SHA256SUMS.
dist: check-cc
	@$(call need-deb,command -v $(CC_amd64),$(DEB_amd64))
	@$(call need-deb,command -v $(CC_arm64),$(DEB_arm64))
	rm -rf $(DIST) && mkdir -p $(DIST)
	for arch in amd64 arm64; do \
		cc=$(CC_amd64); [ $$arch = arm64 ] && cc=$(CC_arm64); \
		CC=$$cc GOOS=linux GOARCH=$$arch $(GO) build -trimpath -buildmode=c-shared \
			-ldflags "-s -w -buildid= $(LDFLAGS)" \
			-o $(DIST)/out_websocket-$(VERSION)-linux-$$arch.so . || exit 1; \
	done
	rm -f $(DIST)/*.h
	cd $(DIST) && sha256sum *.so > SHA256SUMS && cat SHA256SUMS

# The whole plugin end to end; encoder micro-benchmarks: make bench-encoder.
bench: build host
	$(GO) run ./test/bench -host $(HOST) -plugin ./$(SO)

bench-encoder:
	$(GO) test -run '^$$' -bench . -benchmem ./encoder/

FUZZTIME ?= 10m
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzEncode -fuzztime $(FUZZTIME) ./encoder/

lint:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy" >&2; exit 1; }

clean:
	rm -rf $(SO) out_websocket.h $(DIST)
	$(MAKE) -C test/flbhost clean
