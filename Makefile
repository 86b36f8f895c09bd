# out_websocket: a Fluent Bit output plugin in Go, built as a shared object.

PLUGIN_NAME ?= websocket_go
GO          ?= go
CC          ?= gcc
SO          := out_websocket.so
HOST        := test/flbhost/flbhost
GOFILES     := $(shell find . -name '*.go' -not -path './test/flbhost/*')

export CGO_ENABLED := 1

.PHONY: build host test demo bench bench-encoder fuzz lint clean check-cc

build: $(SO)

check-cc:
	@command -v $(CC) >/dev/null 2>&1 || { echo "error: '$(CC)' not found: cgo needs a C compiler to build $(SO) (Debian: apt-get install gcc)" >&2; exit 1; }

$(SO): check-cc $(GOFILES) go.mod go.sum
	$(GO) build -buildmode=c-shared -ldflags "-X main.pluginName=$(PLUGIN_NAME)" -o $(SO) .

host: check-cc
	$(MAKE) -C test/flbhost

# Unit tests, then the plugin end to end inside the test host.
test: build host
	$(GO) test -count=1 -timeout 20m ./...

demo: build host
	$(GO) run ./test/demo -conf conf/fluent-bit.conf -host $(HOST) -plugin ./$(SO)

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

clean:
	rm -f $(SO) out_websocket.h
	$(MAKE) -C test/flbhost clean
