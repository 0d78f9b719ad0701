#!/usr/bin/python3
"""asyncssh side of bench/parallel.sh (run by BenchmarkParallel64Peers).

usage: asyncssh_peer.py SSH_CONFIG HOSTS_FILE PARALLELISM

Reads commands on stdin, one per line, and answers each with one line:
"ok NANOSECONDS" (the time the command took, measured here, so that the
interpreter's start-up is not counted) or "err MESSAGE".

  cold   open a connection to every host, run `true`, close it; at most
         PARALLELISM hosts at a time (a semaphore held by each host from
         connect to close)
  open   open and keep a connection to every host (PARALLELISM at a time)
  warm   run `true` on every host over the kept connections, PARALLELISM
         at a time
  close  close the kept connections
  quit   exit

Every connection takes its port, user, key, known_hosts and key exchange
from SSH_CONFIG, the file the other clients of the benchmark use.
"""
import asyncio
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import asyncssh  # noqa: E402


def main():
    cfg, hosts_file, par = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(hosts_file) as f:
        hosts = [l.split()[0] for l in f if l.strip() and not l.startswith("#")]
    asyncio.run(serve(cfg, hosts, par))


async def connect(cfg, host):
    return await asyncssh.connect(host, config=[cfg])


async def run_true(conn, host):
    r = await conn.run("true")
    if r.exit_status != 0:
        raise RuntimeError(f"{host}: exit status {r.exit_status}")


async def cold(cfg, hosts, par):
    sem = asyncio.Semaphore(par)

    async def one(h):
        async with sem:
            conn = await connect(cfg, h)
            try:
                await run_true(conn, h)
            finally:
                conn.close()
                await conn.wait_closed()

    await asyncio.gather(*(one(h) for h in hosts))


async def serve(cfg, hosts, par):
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    conns = {}
    while True:
        line = (await reader.readline()).decode().strip()
        if line in ("", "quit"):
            break
        t0 = time.perf_counter_ns()
        try:
            if line == "cold":
                await cold(cfg, hosts, par)
            elif line == "open":
                sem = asyncio.Semaphore(par)

                async def op(h):
                    async with sem:
                        conns[h] = await connect(cfg, h)

                await asyncio.gather(*(op(h) for h in hosts))
            elif line == "warm":
                sem = asyncio.Semaphore(par)

                async def wr(h):
                    async with sem:
                        await run_true(conns[h], h)

                await asyncio.gather(*(wr(h) for h in hosts))
            elif line == "close":
                for c in conns.values():
                    c.close()
                for c in conns.values():
                    await c.wait_closed()
                conns.clear()
            else:
                raise ValueError(f"unknown command {line!r}")
            print(f"ok {time.perf_counter_ns() - t0}", flush=True)
        except Exception as e:  # report, keep serving
            msg = f"{type(e).__name__}: {e}".replace("\n", " ")
            print(f"err {msg}", flush=True)
    for c in conns.values():
        c.close()


if __name__ == "__main__":
    main()
