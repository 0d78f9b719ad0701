# goopenssh: the README's two commands are "make demo" and "make test".
GO ?= go
GOBIN := $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(shell command -v staticcheck 2>/dev/null || echo $(GOBIN)/staticcheck)

.PHONY: test deps demo vet fuzz bench

# The whole test suite, as CI runs it.
test: deps
	$(GO) vet ./...
	$(STATICCHECK) ./...
	GODEBUG=execwait=2 $(GO) test -race -count=1 -timeout 15m ./...
	# The whole root package again with TransportMux as every master's
	# default (the transport tables then run their mux half only).
	OPENSSH_TEST_TRANSPORT=mux OPENSSH_TRANSPORTS=mux GODEBUG=execwait=2 $(GO) test -race -count=1 -timeout 15m .

deps:
	@scripts/deps.sh

# A sandbox of hosts on loopback, a master to each, work on all of them.
demo:
	@scripts/deps.sh --minimal
	$(GO) run ./cmd/ossh demo

vet:
	$(GO) vet ./...
	$(STATICCHECK) ./...

-include mk/*.mk

bench: deps bench-deps
	bench/compare.sh
	bench/parallel.sh
