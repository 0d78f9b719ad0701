# goopenssh: the README's two commands are "make demo" and "make test".
GO ?= go
GOBIN := $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(shell command -v staticcheck 2>/dev/null || echo $(GOBIN)/staticcheck)

.PHONY: test deps demo vet crossvet fuzz bench

# Every target the module supports: it must build and vet on each.
CROSS := darwin/amd64 darwin/arm64 freebsd/amd64 openbsd/amd64 netbsd/amd64 linux/amd64 linux/arm64

# The whole test suite, as CI runs it.
test: deps crossvet
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

vet: crossvet
	$(STATICCHECK) ./...

crossvet:
	@for t in $(CROSS); do echo "go vet ($$t)"; GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) vet ./... || exit 1; done

-include mk/*.mk

bench: deps bench-deps
	bench/compare.sh
	bench/parallel.sh
	bench/scale.sh
