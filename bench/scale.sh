#!/bin/sh
# scale.sh measures fan-out and scale, in one run:
#  - BenchmarkMasterReady (root package): time from New to ready for 1 and
#    64 masters at once, the inotify watch against polling, interleaved;
#  - BenchmarkParallel64ColdLoaded: the 64-host cold round under CPU load,
#    both transports, PAR_ROUNDS rounds each, not one may fail;
#  - BenchmarkScaleMasters: SCALE_MASTERS masters (default 1000) on both
#    transports: connect-all, Check-all, true-all, Close-all, fds per master.
# 1000 masters need a hard open-files limit of at least 4256 (ulimit -Hn;
# Go raises the soft limit to it) and about 3000 processes for the user
# (ulimit -u): each master is one ssh here and two sshd processes.
set -eu
cd "$(dirname "$0")"
(cd .. && go test -run '^$' -bench '^BenchmarkMasterReady$' -benchtime 10x -timeout 20m .)
go test -run '^$' -bench '^BenchmarkParallel64ColdLoaded$' -benchtime 1x -timeout 20m .
go test -run '^$' -bench '^BenchmarkScaleMasters$' -benchtime 1x -timeout 40m .
