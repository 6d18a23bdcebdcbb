#!/usr/bin/env python3
"""Set up and run Coach OS with nothing but Python 3.11+ installed.

    python3 dev.py start   # the web app and the worker on embedded SQLite with the demo business (the main job)
    python3 dev.py test    # every check: ruff, mypy --strict, import contracts, all tests
    python3 dev.py bench   # the benchmarks (prints a table, writes bench/results/latest.json)

The first run creates .venv and installs the package with its development tools; later runs
reinstall only when pyproject.toml changed.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import venv
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".coachos-installed"


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    """Run a command from the repository root; stop with its exit code if it fails."""
    print("+", " ".join(str(a) for a in args), flush=True)
    done = subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=False)  # noqa: S603  # our own argv
    if done.returncode != 0:
        sys.exit(done.returncode)


def ensure_venv() -> None:
    """Create .venv and install coachos[dev] into it unless pyproject.toml is unchanged since last time."""
    if sys.version_info < (3, 11):  # noqa: UP036  # dev.py runs on whatever python3 the machine has
        sys.exit(f"Coach OS needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"Creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    STAMP.write_text(wanted)


def run_together(commands: Sequence[Sequence[str | Path]], env: dict[str, str] | None = None, grace: float = 10) -> int:
    """Run the commands as child processes until SIGINT/SIGTERM (then 0) or one of them ends (then non-zero).

    Either way every child still running gets SIGINT (huey and hypercorn finish what they are doing),
    and whatever has not stopped after `grace` seconds is killed, so no half of the pair lives on alone.
    """
    stop_signal: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        stop_signal.append(signum)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    children: list[subprocess.Popen[bytes]] = []
    ended: subprocess.Popen[bytes] | None = None
    try:
        for command in commands:
            print("+", " ".join(str(a) for a in command), flush=True)
            # Their own session, so a terminal's Ctrl+C reaches only us and each child gets exactly one SIGINT
            # (a second one tells huey and hypercorn to stop without finishing their work).
            child = subprocess.Popen([str(a) for a in command], cwd=ROOT, env=env, start_new_session=True)  # noqa: S603  # our argv
            children.append(child)
        while not stop_signal and ended is None:
            time.sleep(0.2)
            ended = next((child for child in children if child.poll() is not None), None)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        deadline = time.monotonic() + grace
        for child in children:
            try:
                child.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if ended is None:
        return 0
    command = " ".join(str(a) for a in ended.args)
    print(f"`{command}` ended (exit code {ended.returncode}), so the others were stopped too.", file=sys.stderr)
    # A server or worker that ends by itself is a failure even when it says 0: it was meant to run on.
    return ended.returncode or 1


def start() -> None:
    """Migrate the embedded SQLite database, then run the web app (seeding the demo business) and the worker."""
    env = dict(os.environ)
    env.setdefault("COACHOS_DATABASE_URL", f"sqlite:///{ROOT / 'coachos.db'}")
    env.setdefault("COACHOS_EMAIL_URL", f"file://{ROOT / 'mail'}")
    host, port = env.get("COACHOS_HOST", "127.0.0.1"), env.get("COACHOS_PORT", "8000")
    env.setdefault("COACHOS_PUBLIC_URL", f"http://{host}:{port}")
    # `serve` never migrates (it refuses a schema that is behind), so the one-command start does it first.
    run(BIN / "coachos", "db", "upgrade", env=env)
    sys.exit(
        run_together(
            [[BIN / "coachos", "serve", "--demo", "--host", host, "--port", port], [BIN / "coachos", "worker"]],
            env=env,
        )
    )


def test(extra: list[str]) -> None:
    """Every quality gate, then the whole test suite (unit and integration)."""
    run(BIN / "ruff", "check", "src", "tests", "bench", "dev.py")
    run(BIN / "ruff", "format", "--check", "src", "tests", "bench", "dev.py")
    run(BIN / "mypy")
    run(BIN / "lint-imports")
    run(BIN / "python", "-m", "pytest", *extra)


def bench() -> None:
    """Run the benchmarks."""
    run(BIN / "python", "-m", "bench")


def main() -> None:
    command, extra = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command not in ("start", "test", "bench"):
        sys.exit(__doc__)
    ensure_venv()
    if command == "start":
        start()
    elif command == "test":
        test(extra)
    else:
        bench()


if __name__ == "__main__":
    main()
