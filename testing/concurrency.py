"""Run calls on threads released at the same instant, for race tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import pytest


def run_together(work: Callable, calls: Iterable[tuple], *, timeout: float = 120) -> list:
    """Call `work(*args)` once per `args` in `calls`, each on its own thread;
    a barrier releases them all at once so they really overlap. Returns the
    results in the order of `calls`; re-raises the first exception a call
    raised, after every thread has finished. Each thread closes its own
    database connections."""
    from django.db import connections

    calls = list(calls)
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, args: tuple) -> None:
        try:
            barrier.wait()
            results[index] = work(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index, args)) for index, args in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    if any(thread.is_alive() for thread in threads):
        raise TimeoutError(f"concurrent calls still running after {timeout} s")
    if errors:
        raise errors[0]
    return results


@pytest.fixture(name="run_together")
def run_together_fixture() -> Callable:
    """`run_together(work, calls, timeout=120)`: see `run_together` above."""
    return run_together
