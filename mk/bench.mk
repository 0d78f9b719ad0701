# The parallel comparison alone; included from the main Makefile, whose
# "make bench" runs bench-deps, bench/compare.sh and bench/parallel.sh.
.PHONY: bench-deps bench-parallel

# Net::OpenSSH::Parallel, parallel-ssh and asyncssh from Debian's packages.
bench-deps:
	@scripts/bench-deps.sh

# PAR_ROUNDS rounds per client (default 5).
bench-parallel: deps bench-deps
	bench/parallel.sh
