# Fuzz targets; included from the main Makefile.
# Each target runs for FUZZTIME (60s by default).

FUZZTIME ?= 60s
FUZZ_TARGETS := FuzzQuotePOSIX FuzzQuoteCsh FuzzQuoteFish FuzzQuoteGlobEscaped FuzzQuoteMSWin FuzzQuoteMSCmd FuzzParseTarget
FUZZ_MUX_TARGETS := FuzzDecode

.PHONY: fuzz
fuzz:
	set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $$t"; \
		go test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) . ; \
	done; \
	for t in $(FUZZ_MUX_TARGETS); do \
		echo "== internal/mux $$t"; \
		go test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) ./internal/mux ; \
	done
