"""The resource-scheduler specification's Python usage, as a user would write it against its REST surface.

Standard library and `requests` only. The functions keep the specification's names and arguments
(get_conflict_queue(use_priority), set_scheduling_strategy(strategy, config), allocate_resource(task_id,
resource_type, requested_amount, priority), ...); the push comes from /push/sse read with a minimal SSE reader that,
like EventSource.onmessage, takes every `data:` frame as one message {id, type, data, ts}.

Environment: ARBITER_URL (default http://127.0.0.1:7070) and ARBITER_TOKEN. Prints one JSON summary on stdout.
"""
import json
import os
import sys
import threading
import time

import requests

BASE = os.environ.get("ARBITER_URL", "http://127.0.0.1:7070").rstrip("/") + "/api/resource-scheduler"
TOKEN = os.environ.get("ARBITER_TOKEN")
HEADERS = {"Authorization": "Bearer " + TOKEN} if TOKEN else {}


def get_cpu_state():
    r = requests.get(f"{BASE}/status/cpu", headers=HEADERS, timeout=10)
    r.raise_for_status()
    return r.json()["cpu_state"]


def get_gpu_states():
    r = requests.get(f"{BASE}/status/gpu", headers=HEADERS, timeout=10)
    r.raise_for_status()
    return r.json()["gpu_states"]


def get_conflict_queue(use_priority=False):
    r = requests.get(f"{BASE}/conflicts/queue", params={"use_priority": use_priority}, headers=HEADERS, timeout=10)
    r.raise_for_status()
    return r.json()["conflicts"]


def resolve_conflict(conflict_id, strategy=None):
    r = requests.post(f"{BASE}/conflicts/{conflict_id}/resolve", json={"strategy": strategy}, headers=HEADERS, timeout=10)
    return r.status_code, r.json()


def set_scheduling_strategy(strategy, config=None):
    r = requests.post(f"{BASE}/strategy/set", json={"strategy": strategy, "config": config}, headers=HEADERS, timeout=10)
    r.raise_for_status()
    return r.json()


def get_scheduling_strategy():
    r = requests.get(f"{BASE}/strategy", headers=HEADERS, timeout=10)
    r.raise_for_status()
    return r.json()


def evaluate_strategy_performance():
    r = requests.get(f"{BASE}/strategy/performance", headers=HEADERS, timeout=10)
    r.raise_for_status()
    return r.json()["performance"]


def allocate_resource(task_id, resource_type, requested_amount, priority=5):
    r = requests.post(
        f"{BASE}/allocate",
        json={"task_id": task_id, "resource_type": resource_type, "requested_amount": requested_amount, "priority": priority},
        headers=HEADERS,
        timeout=10,
    )
    r.raise_for_status()
    return r.json()


def read_messages(messages, stop):
    """A minimal SSE reader: `data:` lines up to a blank line are one message; id, event, retry and comments are skipped."""
    with requests.get(f"{BASE}/push/sse", headers=HEADERS, stream=True, timeout=(5, 60)) as r:
        r.raise_for_status()
        data = []
        for line in r.iter_lines(chunk_size=1, decode_unicode=True):
            if line == "":
                if data:
                    messages.append(json.loads("\n".join(data)))
                    data = []
                if stop.is_set():
                    return
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))


def wait_for(pred, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def main():
    cpu = get_cpu_state()
    gpus = get_gpu_states()

    # the specification's example: fair_sharing with a 10 s time slice (fair_sharing has no quantum: reported ignored)
    fair = set_scheduling_strategy("fair_sharing", {"time_slice": 10.0})
    sliced = set_scheduling_strategy("time_slicing", {"time_slice": 10.0})
    current = get_scheduling_strategy()
    set_scheduling_strategy("priority_based")

    messages, stop = [], threading.Event()
    reader = threading.Thread(target=read_messages, args=(messages, stop), daemon=True)
    reader.start()
    wait_for(lambda: len(messages) > 0, 10)  # the latest resource_status comes first: the stream is live

    first = allocate_resource("task-a", "cpu", 100, priority=5)
    second = allocate_resource("task-b", "cpu", 100, priority=1)
    queue = get_conflict_queue(use_priority=True)
    resolve_status, _ = resolve_conflict(second["conflict"]["id"], "priority_based") if second.get("conflict") else (None, None)
    types = lambda: {m.get("type") for m in messages}
    wait_for(lambda: {"resource_status", "hint", "conflict"} <= types(), 20)
    stop.set()
    performance = evaluate_strategy_performance()

    print(json.dumps({
        "cpu_cores": cpu["cores"],
        "gpu_states": {k: v["state"] for k, v in gpus.items()},
        "fair_sharing_ignored": [i["key"] for i in fair["ignored"]],
        "time_slicing_quantum_ms": sliced["config"]["quantumMs"],
        "current": {"strategy": current["strategy"], "quantum_ms": current["config"].get("quantumMs")},
        "allocations": [first["status"], second["status"]],
        "queue": [c["id"] for c in queue],
        "second_conflict": (second.get("conflict") or {}).get("id"),
        "resolve_status": resolve_status,
        "performance_current": performance["current"],
        "types_seen": sorted(t for t in types() if t),
        "messages_ok": all(isinstance(m.get("id"), int) and "data" in m and "ts" in m for m in messages),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
