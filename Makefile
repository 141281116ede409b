# wildwatch — `make help` lists the targets.

SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/wildwatch/wildwatch.Version=$(VERSION)
TOOLS := $(CURDIR)/bin/tools
export PATH := $(TOOLS):$(PATH)

STATICCHECK_VERSION := v0.7.0
VERSITYGW_VERSION := v1.8.0

.DEFAULT_GOAL := help

.PHONY: help
help: ## print every target with its description
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/wildwatch with the version stamped in
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/wildwatch ./cmd/wildwatch

.PHONY: run
run: build chromium ## run the daemon with embedded defaults and the demo marketplace (state in ./data)
	./bin/wildwatch serve --demo --data data

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(TOOLS)/versitygw:
	@echo "installing versitygw $(VERSITYGW_VERSION) (the S3 server the tests use; a few minutes the first time)"
	GOBIN=$(TOOLS) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

.PHONY: chromium
chromium: ## install Debian's chromium when no Chromium is on PATH, and CJK and Thai fonts (the browser tests render with it)
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  echo "installing Debian's chromium"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }
	@fc-list :lang=zh family | grep -q . && fc-list :lang=th family | grep -q . || { \
	  echo "installing Debian's Noto CJK and Thai fonts (screenshots and reports of listings in those scripts)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq fonts-noto-cjk fonts-thai-tlwg; }

.PHONY: s3cmd
s3cmd: ## install Debian's s3cmd when it is missing (the S3 tests read evidence back with it, apart from minio-go)
	@command -v s3cmd >/dev/null || { \
	  echo "installing Debian's s3cmd"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq s3cmd; }

.PHONY: tools
tools: $(TOOLS)/staticcheck $(TOOLS)/versitygw chromium s3cmd ## install what the tests use: staticcheck and versitygw (pinned, into bin/tools), chromium and s3cmd

.PHONY: lint
lint: $(TOOLS)/staticcheck ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...

.PHONY: test
test: tools lint ## run every test against real Redis, PostgreSQL and S3 (versitygw); the console's screenshots land in test-output/
	@mkdir -p test-output
	$(GO) test -count=1 -timeout 30m -artifacts -outputdir $(CURDIR)/test-output ./...

.PHONY: bench
bench: build tools ## sweep the demo site (embedded and on real Redis, PostgreSQL, S3), render and match, each against a baseline in the same run
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 30m ./bench/ | tee bench.out
	@$(GO) run ./bench/report < bench.out

.PHONY: clean
clean: ## remove build output (keeps ./data)
	rm -rf bin bench.out test-output
