"""What every `*_bench.py` shares: the input the xtask wrote, and one JSON
line per measured phase (wall time, this process's CPU time, and the
requests the emulator's face received during it)."""

import json
import os
import sys
import time
import urllib.request


def load_input():
    """The bench's input: ids to describe, counts, the names of things."""
    with open(os.environ["BENCH_INPUT"]) as f:
        return json.load(f)


def _requests(face):
    url = os.environ["EMULATOR_CONTROL"] + "/_emulator/requests"
    with urllib.request.urlopen(url) as answer:
        return json.load(answer)[face]


def measure(face, phase, call):
    """Runs `call()` as `phase` and prints its figures; returns its result."""
    before = _requests(face)
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        json.dumps(
            {
                "phase": phase,
                "wall_ms": round(wall * 1000, 1),
                "cpu_ms": round(cpu * 1000, 1),
                "requests": _requests(face) - before,
            }
        ),
        flush=True,
    )
    return result


def check(condition, message):
    if not condition:
        sys.exit(f"bench: {message}")
