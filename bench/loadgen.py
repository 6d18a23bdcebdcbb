"""A small HTTP/1.1 load generator, run as its own process: `python -m bench.loadgen SPEC.json`.

Keep-alive connections each send requests back to back for a fixed time (or until their list of
requests runs out). Prints one JSON object: requests per second, p50/p99 latency, status counts.
Dependency-free so the benchmark needs nothing beyond the project itself.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import sys
import time
from collections import Counter
from typing import Any


async def _send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    await writer.drain()
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    chunked = False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while (size := int((await reader.readline()).strip() or b"0", 16)) > 0:
            await reader.readexactly(size + 2)
        await reader.readline()
    elif length:
        await reader.readexactly(length)
    return status


def _raw(host: str, port: int, request: dict[str, Any]) -> bytes:
    body = request.get("body", "").encode()
    headers = {"Host": f"{host}:{port}", "Connection": "keep-alive", **request.get("headers", {})}
    if body:
        headers["Content-Length"] = str(len(body))
    head = f"{request['method']} {request['path']} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + body


async def _worker(
    host: str, port: int, requests: Any, until: float, latencies: list[float], statuses: Counter[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            try:
                request = next(requests)
            except StopIteration:
                return
            t0 = time.perf_counter()
            statuses[await _send(reader, writer, _raw(host, port, request))] += 1
            latencies.append(time.perf_counter() - t0)
    finally:
        writer.close()


async def _paced(
    host: str,
    port: int,
    queue: asyncio.Queue[tuple[float, dict[str, Any]] | None],
    latencies: list[float],
    statuses: Counter[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (item := await queue.get()) is not None:
            due, request = item
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            statuses[await _send(reader, writer, _raw(host, port, request))] += 1
            # From when the request was DUE, not when a connection got free: a slow server shows as
            # latency instead of silently lowering the offered rate (coordinated omission).
            latencies.append(time.perf_counter() - due)
    finally:
        writer.close()


async def _open_loop(spec: dict[str, Any], latencies: list[float], statuses: Counter[int]) -> None:
    """Offer `rate` requests a second, each at its own time, whatever the answers take."""
    queue: asyncio.Queue[tuple[float, dict[str, Any]] | None] = asyncio.Queue()
    start = time.perf_counter() + 0.05
    for n, request in enumerate(spec["requests"]):
        queue.put_nowait((start + n / spec["rate"], request))
    for _ in range(spec["connections"]):
        queue.put_nowait(None)
    await asyncio.gather(
        *(_paced(spec["host"], spec["port"], queue, latencies, statuses) for _ in range(spec["connections"]))
    )


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Drive `spec` = {host, port, connections, seconds, requests: [...], cycle: bool, rate: optional}.

    With `rate`, each request of the list is sent once at its own due time (open loop); otherwise
    every connection sends back to back for `seconds`.
    """
    requests = itertools.cycle(spec["requests"]) if spec.get("cycle", True) else iter(spec["requests"])
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    started = time.perf_counter()
    if spec.get("rate"):
        await _open_loop(spec, latencies, statuses)
    else:
        until = started + spec["seconds"]
        await asyncio.gather(
            *(
                _worker(spec["host"], spec["port"], requests, until, latencies, statuses)
                for _ in range(spec["connections"])
            )
        )
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "seconds": elapsed,
        "requests_per_second": len(ordered) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000 if ordered else None,
        "p99_ms": ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000 if ordered else None,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "connections": spec["connections"],
    }


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        print(json.dumps(asyncio.run(run(json.load(handle)))))
