"""The event loop's CPU per heartbeat through the exporter's ASGI app, called in-process.

No HTTP server and no load generator, so far less noisy than wrk on a shared machine: 64
concurrent tasks call the app (with its middleware, routing, auth, validation and the group
commit to a SQLite file with ``synchronous=NORMAL``) with seed-shaped heartbeats, and the main
thread's CPU time (``time.thread_time``: the writer thread's is not in it) is divided by the
heartbeats answered 200. ``python -m bench.app_cost [--checkout DIR] [--rounds N]`` runs it for
``DIR``'s exporter (default this checkout; this file, ``DIR``'s modules) in a fresh process per
round and prints µs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any

CONCURRENCY = 64
HEARTBEATS = 20_000
CONSOLES = 10_000


STATES = ("ocupada", "esperando", "activa", "ocupada")


def heartbeat_body(i: int) -> bytes:
    """Console ``i``'s heartbeat, as bench/wrk/heartbeat.lua writes it."""
    from bench.ids import sistema

    estado = STATES[i % len(STATES)]
    return json.dumps(
        {
            "estado": estado,
            "sistema": sistema(i),
            "ultimaActividad": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "ultimoError": None,
            "videoEnProceso": f"Video Historia {i % 97} (2/5)" if estado == "ocupada" else None,
            "intervaloSegundos": 300,
        },
        separators=(",", ":"),
    ).encode()


async def _measure(database: str) -> float:
    from bench.ids import console_id
    from exporter.config import ExporterConfig
    from exporter.service import ExporterService
    from exporter.web.app import create_app

    service = ExporterService(
        ExporterConfig(database=database, sqlite_synchronous="normal", sweep_interval=3600.0)
    )
    app = create_app(service)
    service.start()
    bodies = [heartbeat_body(i) for i in range(CONSOLES)]
    statuses: list[int] = []

    async def one(n: int) -> None:
        cid = console_id(n % CONSOLES)
        body = bodies[n % CONSOLES]
        scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": f"/api/consolas/{cid}/heartbeat", "raw_path": b"",
            "root_path": "", "query_string": b"", "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 3000),
            "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())],
        }  # fmt: skip
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)

    async def worker(start: int) -> None:
        for n in range(start, HEARTBEATS, CONCURRENCY):
            await one(n)

    await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)))  # warm-up
    statuses.clear()
    cpu = time.thread_time()
    await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)))
    cpu = time.thread_time() - cpu
    await service.stop()
    ok = statuses.count(200)
    if ok != len(statuses):
        raise RuntimeError(f"non-200 answers: {sorted(set(statuses))}")
    return cpu / ok


def _one_round() -> None:
    """In a fresh process: register the consoles, measure, print µs per heartbeat."""
    import uvloop

    from bench.fleet import register_consoles

    with tempfile.TemporaryDirectory(prefix="bench-app-cost-") as tmp:
        database = str(Path(tmp) / "consolas.db")
        register_consoles(database, CONSOLES)
        print(f"{uvloop.run(_measure(database)) * 1e6:.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.app_cost", description=__doc__)
    parser.add_argument("--checkout", type=Path, help="another checkout's exporter (and bench)")
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes (default 5)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        _one_round()
        return 0
    root = (args.checkout or Path(__file__).resolve().parent.parent).resolve()
    env = {**os.environ, "PYTHONPATH": str(root)}
    values = []
    for _ in range(args.rounds):
        done = subprocess.run(
            [sys.executable, __file__, "--one"],  # this file, DIR's exporter
            cwd=root, env=env, capture_output=True, text=True, check=True, timeout=600,
        )  # fmt: skip
        values.append(float(done.stdout.split()[-1]))
        print(f"  {root}: {values[-1]:.1f} µs", file=sys.stderr)
    values.sort()
    print(f"{root}: median {values[len(values) // 2]:.1f} µs per heartbeat ({values})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
