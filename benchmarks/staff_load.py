"""The load generator behind benchmarks/capacity.py: locust's FastHttpUser in one process.

Not run by hand: capacity.py writes the plan (server, users, think time, the request mix with
its paths, sessions) as JSON on this script's standard input and reads one JSON line of
results from its standard output. It is a process of its own because locust patches the
standard library for gevent when imported; Django, psycopg and gunicorn stay unpatched in
the parent.
"""

# locust must be imported first: it monkey-patches sockets and threads for gevent.
from locust import FastHttpUser, between, task  # isort: skip
from locust.env import Environment  # isort: skip

import itertools
import json
import random
import sys
import time
from typing import Any

import gevent
import gevent.event

plan: dict[str, Any] = json.load(sys.stdin)
KINDS: list[dict[str, Any]] = plan["kinds"]
SESSIONS: list[str] = plan["sessions"]
numbering = itertools.count()
# Requests sent and answered (gevent switches only on I/O, so plain counters are safe).
progress = {"sent": 0, "answered": 0}


class StaffUser(FastHttpUser):
    """One member of staff (or, for the public times, one visitor) with a browser's pace."""

    host = plan["base"]
    wait_time = between(0.5 * plan["think"], 1.5 * plan["think"])
    # A saturated server answers late; a request still counts (as slow) up to this.
    network_timeout = 60.0
    connection_timeout = 60.0

    def on_start(self) -> None:
        number = next(numbering)
        self.cookie = f"{plan['cookie_name']}={SESSIONS[number % len(SESSIONS)]}"
        # Each visitor comes from an address of their own through the one trusted proxy,
        # so the public pages' per-address limit (60/min) sees many people, as in life.
        self.address = f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"
        self.deck: list[dict[str, Any]] = []

    @task
    def next_request(self) -> None:
        # The mix dealt like cards: a deck holds each kind `weight` times, shuffled, so
        # every user keeps to the shares however few requests a run gives them.
        if not self.deck:
            self.deck = [kind for kind in KINDS for _ in range(kind["weight"])]
            random.shuffle(self.deck)
        kind = self.deck.pop()
        headers = {"X-Forwarded-For": self.address}
        if kind["auth"] == "staff":
            headers["Cookie"] = self.cookie
        elif kind["auth"] == "api":
            headers["Authorization"] = f"Bearer {plan['token']}"
        if kind["htmx"]:
            # What htmx sends: the request flag and the id of the element it swaps.
            headers["HX-Request"] = "true"
            headers["HX-Target"] = kind["hx_target"]
        progress["sent"] += 1
        with self.client.get(
            random.choice(kind["paths"]),
            name=kind["name"],
            headers=headers,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            # A signed-out session answers 302 to the sign-in page (204 + HX-Redirect for
            # htmx): both would look like quick successes, so anything but 200 is an error.
            if not response.status_code:  # no answer at all: refused, reset, timed out
                response.failure(f"no answer: {response.error!r}")
            elif response.status_code != 200:
                answer = response.headers or {}
                where = answer.get("Location") or answer.get("HX-Redirect")
                response.failure(f"{response.status_code} {where or ''}".strip())
            elif kind["marker"] and kind["marker"].encode() not in (response.content or b""):
                response.failure(f"200 without {kind['marker']!r}")
        progress["answered"] += 1


def main() -> None:
    environment = Environment(user_classes=[StaffUser])
    runner = environment.create_local_runner()
    spawned = gevent.event.Event()
    environment.events.spawning_complete.add_listener(lambda user_count: spawned.set())
    runner.start(plan["users"], spawn_rate=plan["spawn_rate"])
    spawned.wait(timeout=plan["users"] / plan["spawn_rate"] + 120)
    # Measure from the moment every user is in: the ramp is not the load asked for.
    environment.stats.reset_all()
    wall, cpu, machine = time.monotonic(), time.process_time(), machine_busy()
    gevent.sleep(plan["duration"])
    # A short run (CI's) goes on until every kind has been counted, within reason.
    deadline = wall + 5 * plan["duration"]
    while time.monotonic() < deadline and any(
        environment.stats.get(kind["name"], "GET").num_requests == 0 for kind in KINDS
    ):
        gevent.sleep(0.2)
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    machine_share = _share(machine, machine_busy())
    # Requests not yet answered count in no figure: a server that answers a few quickly and
    # leaves the rest waiting would look healthy, so the run reports how many still wait.
    waiting = progress["sent"] - progress["answered"]
    runner.quit()
    figures = results(environment, wall=wall, cpu=cpu, machine=machine_share)
    print(json.dumps({**figures, "waiting_at_end": waiting}))


def results(environment: Environment, *, wall: float, cpu: float, machine: float | None) -> dict:
    def figures(entry: Any) -> dict[str, Any]:
        return {
            "requests": entry.num_requests,
            "errors": entry.num_failures,
            "rps": round(entry.num_requests / wall, 1),
            **{
                name: entry.get_response_time_percentile(share) if entry.num_requests else None
                for name, share in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
            },
        }

    return {
        "seconds": round(wall, 1),
        "total": figures(environment.stats.total),
        "kinds": {
            kind["name"]: figures(environment.stats.get(kind["name"], "GET")) for kind in KINDS
        },
        "errors": [
            {"request": error.name, "error": str(error.error), "count": error.occurrences}
            for error in environment.stats.errors.values()
        ],
        # Of one core: the load generator is one process, so 1.0 would mean it was the limit.
        "load_generator_cpu": round(cpu / wall, 3),
        "machine_busy": machine,
    }


def machine_busy() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat; None where there is none."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(n) for n in stat.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] == before[1]:
        return None
    return round((after[0] - before[0]) / (after[1] - before[1]), 3)


if __name__ == "__main__":
    main()
