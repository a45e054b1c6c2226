"""parallel.map_chunks: the list comprehension's result, on every core."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcli import parallel


@given(st.lists(st.integers(-(10**6), 10**6), max_size=300))
def test_the_result_is_the_comprehension_in_order(items):
    assert parallel.map_chunks(lambda k: k * 3 - 1, items) == [k * 3 - 1 for k in items]


@pytest.mark.skipif(parallel.WORKERS < 2, reason="one core")
def test_every_worker_takes_items():
    seen: set[int] = set()

    def item(k: int) -> int:
        seen.add(threading.get_ident())
        time.sleep(0.002)  # long enough that one thread cannot take them all
        return k

    assert parallel.map_chunks(item, list(range(40))) == list(range(40))
    assert len(seen) == parallel.WORKERS


@pytest.mark.parametrize("error", [ValueError("bad block"), KeyboardInterrupt()])
def test_the_first_failure_is_raised_and_stops_the_rest(error):
    calls: list[int] = []

    def item(k: int) -> int:
        calls.append(k)
        if k == 3:
            raise error
        time.sleep(0.001)
        return k

    with pytest.raises(type(error)):
        parallel.map_chunks(item, list(range(1000)))
    assert 3 in calls
    assert len(calls) < 3 + 4 * parallel.WORKERS  # each thread stops after its current item
