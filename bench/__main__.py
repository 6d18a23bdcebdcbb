"""`python -m bench` (or `python3 dev.py bench`): run every benchmark, print a table, write JSON."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import bench_credits, bench_find_slots, bench_sending, bench_slots, bench_web, bench_webhooks

RESULTS = Path(__file__).resolve().parent / "results"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    return "" if value is None else str(value)


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table of the figures that matter."""
    columns = [
        "name",
        "median_ms",
        "p95_ms",
        "uses_per_second",
        "succeeded",
        "refused",
        "slots",
        "sql_per_call",
        "requests_per_second",
        "p50_ms",
        "p99_ms",
        "statuses",
        "claim_all_seconds",
        "sends_per_second",
        "sends_per_second_per_worker",
        "most_granted_per_rate_interval",
        "deliveries",
        "events_per_second",
        "exactly_once",
    ]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    rows: list[dict[str, Any]] = [bench_slots.run()]
    try:
        found = bench_find_slots.run()
        empty, busy = found["statements_per_call_0_bookings"], found["statements_per_call_300_bookings"]
        found["sql_per_call"] = f"{empty} (0 bookings) / {busy} (300)"
        rows += [found, *bench_credits.run(), *bench_web.run(), bench_sending.run(), *bench_webhooks.run()]
    except Exception as exc:  # PostgreSQL missing: still report the pure figures, then fail
        print(table(rows))
        sys.exit(f"credit benchmark failed: {exc}")
    print(table(rows))
    RESULTS.mkdir(exist_ok=True)
    report = {
        "when": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "results": rows,
    }
    out = RESULTS / "latest.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
