# Fuzz targets of the openssh package; included from the main Makefile.
# Each target runs for FUZZTIME (60s by default).

FUZZTIME ?= 60s
FUZZ_TARGETS := FuzzQuotePOSIX FuzzQuoteCsh FuzzQuoteFish FuzzQuoteGlobEscaped FuzzQuoteMSWin FuzzQuoteMSCmd

.PHONY: fuzz
fuzz:
	set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $$t"; \
		go test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) . ; \
	done
