# weft — the two commands a newcomer needs are `make run` and `make test`.
GO      ?= go
BIN     := bin
# Fuzzing. `go test` runs every fuzz target's seed corpus as an ordinary test;
# `make test` then fuzzes each target briefly, TEST_FUZZTIME inputs apiece (a
# count, not a duration: a busy machine takes longer but cannot fail for it;
# 2–3 s a target once the instrumented builds are cached). `make fuzz` is
# the long run, FUZZTIME per target (a duration, 1m, or a count, 500000x):
#   make fuzz FUZZTIME=10m
#   make fuzz FUZZ=./core:FuzzValidateDocument FUZZTIME=30m
# FUZZ is every `func FuzzXxx` in a *_test.go file, as PACKAGE:NAME.
TEST_FUZZTIME ?= 2000x
FUZZTIME      ?= 1m
FUZZ ?= $(shell grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sed -E 's|^(.*)/[^/]*_test\.go:func |\1:|' | sort -u)

.PHONY: all build examples run run-once test lint fuzz bench bench-e2e clean proto

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
	@$(BIN)/mockapi -addr $(MOCK_ADDR) -- sh -c 'exec "$$0" serve --addr "$$1" --save-credentials=true --load examples/lead-distribution.json --var "apiBase=$$WEFT_MOCKAPI_URL"' $(BIN)/weft $(ADDR)

# run-once: the lead-distribution example in one process, without a server.
run-once: build
	@$(BIN)/mockapi -addr 127.0.0.1:0 -- sh -c '$(BIN)/weft run examples/lead-distribution.json --input "{\"leadId\": \"42\", \"apiBase\": \"$$WEFT_MOCKAPI_URL\"}"'

# test: vet and gofmt, the whole suite with -race, a short fuzz of every
# target, and a last line saying which optional backends the suite used
# (printed whether it passed or not).
test: lint
	@status=0; \
	echo "$(GO) test -race -count=1 ./..."; \
	$(GO) test -race -count=1 ./... && \
		$(MAKE) --no-print-directory fuzz FUZZTIME=$(TEST_FUZZTIME) || status=$$?; \
	$(BACKENDS); \
	exit $$status

fuzz:
	@for t in $(FUZZ); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

# BACKENDS prints the backends line. PostgreSQL runs when
# WEFT_TEST_POSTGRES_DSN is set, and then its tests fail (never skip) if the
# server cannot be reached, so "ran" is true of a passing suite. No test
# reads WEFT_TEST_NATS_URL yet (.ci/run exports it for the NATS trigger
# tests to come); the line says so until one does.
BACKENDS = \
	if [ -n "$$WEFT_TEST_POSTGRES_DSN" ]; then \
		pg="PostgreSQL ran (WEFT_TEST_POSTGRES_DSN)"; \
	else \
		pg="PostgreSQL skipped — set WEFT_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run its tests"; \
	fi; \
	if ! grep -rqs --include='*_test.go' WEFT_TEST_NATS_URL .; then \
		nats="NATS: no test uses it yet"; \
	elif [ -n "$$WEFT_TEST_NATS_URL" ]; then \
		nats="NATS ran (WEFT_TEST_NATS_URL)"; \
	else \
		nats="NATS skipped — set WEFT_TEST_NATS_URL=nats://127.0.0.1:4222 to run its tests"; \
	fi; \
	echo "backends: $$pg · $$nats"

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

# bench-e2e: the end-to-end benchmark, the figure weft is judged by
# (cmd/bench-e2e): weft serve and a hand-written Go server running the same
# workflow against the same mock, c=1, 8 and 32, every answer checked, three
# rounds (medians). About ten minutes. E2E adds or overrides flags:
#   make bench-e2e E2E='-rounds 1 -d 5s'
#   make bench-e2e E2E='-systems handwritten,weft,weft-pg,weft-pg2 -postgres postgres://…'
E2E ?=
bench-e2e:
	$(GO) run ./cmd/bench-e2e -rounds 3 $(E2E)

clean:
	rm -rf $(BIN)
