"""The gate of native async requests: ``max_workers`` in flight at most, on any event loop."""

from __future__ import annotations

import asyncio

from portacloud.storage.async_native import Gate


def test_at_most_limit_requests_are_in_flight() -> None:
    gate = Gate(3)
    in_flight = peak = 0

    async def request() -> None:
        nonlocal in_flight, peak
        async with gate():
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.001)
            in_flight -= 1

    async def main() -> None:
        await asyncio.gather(*(request() for _ in range(50)))

    asyncio.run(main())
    assert peak == 3


def test_a_gate_outlives_the_loop_it_was_first_used_on() -> None:
    gate = Gate(1)

    async def contended() -> None:
        async def hold() -> None:
            async with gate():
                await asyncio.sleep(0.001)

        await asyncio.gather(hold(), hold())

    asyncio.run(contended())
    asyncio.run(contended())  # a semaphore bound to the first loop would raise here
