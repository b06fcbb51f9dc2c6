# weft — the two commands a newcomer needs are `make run` and `make test`.
GO      ?= go
BIN     := bin
# Fuzz targets run briefly on every `make test` (a count of inputs, a few
# seconds each: a wall-clock -fuzztime can end in a spurious "context deadline
# exceeded" on a cold cache); run one longer with
#   go test -run='^$$' -fuzz='^FuzzValidateDocument$$' -fuzztime=5m ./core/
FUZZTIME ?= 20000x
FUZZ := ./core:FuzzParseTemplate ./core:FuzzValidateDocument ./core:FuzzCompileExpr ./sdk:FuzzDecodeValue ./db:FuzzStorable ./db:FuzzEncode ./server:FuzzBlankReadOnly

.PHONY: all build examples run run-once test lint fuzz bench clean proto

all: build

build:
	$(GO) build -o $(BIN)/weft ./cmd/weft
	$(GO) build -o $(BIN)/mockapi ./examples/mockapi/cmd/mockapi

# examples: bin/weft, bin/mockapi, every WASM guest of examples/wasm/
# built into bin/modules/NAME.wasm (the --modules-dir of the examples), and
# every plugin of examples/plugins/ into bin/plugins/NAME (the --plugins-dir);
# no binary is committed.
examples: build
	@mkdir -p $(BIN)/modules
	@for dir in examples/wasm/*/; do \
		name=$$(basename $$dir); \
		echo "build $(BIN)/modules/$$name.wasm"; \
		GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o $(BIN)/modules/$$name.wasm ./$$dir || exit 1; \
	done
	@mkdir -p $(BIN)/plugins
	@for dir in examples/plugins/*/; do \
		name=$$(basename $$dir); \
		echo "build $(BIN)/plugins/$$name"; \
		CGO_ENABLED=0 $(GO) build -o $(BIN)/plugins/$$name ./$$dir || exit 1; \
	done

# run: the server on the embedded SQLite default (weft.db here), with the
# example workflow applied and the mock API it calls. It prints an admin key
# on first start (also kept for the weft CLI in ~/.config/weft/credentials)
# and commands to try. Ctrl-C stops both. Other ports:
#   make run ADDR=127.0.0.1:8081 MOCK_ADDR=127.0.0.1:9101
# (the example's apiBase follows the mock: --var sets it at load).
ADDR      ?= 127.0.0.1:8080
MOCK_ADDR ?= 127.0.0.1:9100
run: build
	@$(BIN)/mockapi -addr $(MOCK_ADDR) -- sh -c 'exec "$$0" serve --addr "$$1" --load examples/lead-distribution.json --var "apiBase=$$WEFT_MOCKAPI_URL"' $(BIN)/weft $(ADDR)

# run-once: the lead-distribution example in one process, without a server.
run-once: build
	@$(BIN)/mockapi -addr 127.0.0.1:0 -- sh -c '$(BIN)/weft run examples/lead-distribution.json --input "{\"leadId\": \"42\", \"apiBase\": \"$$WEFT_MOCKAPI_URL\"}"'

test: lint
	$(GO) test -race -count=1 ./...
	@$(MAKE) --no-print-directory fuzz

fuzz:
	@for t in $(FUZZ); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# proto: regenerate the plugin protocol's Go code (sdk/plugin/pb) from its
# .proto. Needs protoc (Debian: apt-get install protobuf-compiler); the two
# Go generators are installed at the versions the committed code was made with.
PROTOC_GEN_GO      := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
proto:
	@command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler"; exit 1; }
	GOBIN=$(CURDIR)/$(BIN)/tools $(GO) install $(PROTOC_GEN_GO)
	GOBIN=$(CURDIR)/$(BIN)/tools $(GO) install $(PROTOC_GEN_GO_GRPC)
	cd sdk/plugin/pb && PATH="$(CURDIR)/$(BIN)/tools:$$PATH" protoc --go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative plugin.proto

# bench: every benchmark once (BENCH=pattern for some). A quick look, not the
# published figures: docs/performance.md gives those, each with the repeated
# runs it took, and says what this target runs.
BENCH ?= .
bench:
	$(GO) test -run='^$$' -bench='$(BENCH)' -benchmem ./core/ ./db/ ./sdk/ ./plugins/ ./scripting/lua/ ./scripting/wasm/ ./scripting/bench/

clean:
	rm -rf $(BIN)
