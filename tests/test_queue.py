"""InferenceQueue over a scripted engine: batching, fairness, admission, cancel, timeout, failure."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import AsyncIterator, Callable

import pytest

from bot.errors import GenerationCancelled, GenerationError, GenerationTimeout, QueueFull
from bot.inference.queue import InferenceQueue
from bot.inference.types import GenerationRequest
from bot.settings import sampling_params
from tests.engine_kit import make_engine, tiny_model
from tests.fakes.engine import ScriptedEngine

Rig = tuple[ScriptedEngine, InferenceQueue]


async def until(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    """Poll a condition the worker thread changes (no asyncio.Event crosses that thread)."""
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


def request(channel: str, prompt_len: int = 5) -> GenerationRequest:
    return GenerationRequest(tuple(range(prompt_len)), sampling_params(max_new_tokens=10), channel)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    engine = ScriptedEngine(max_batch=4, steps=3)
    queue = InferenceQueue(engine, max_queue=8, timeout_s=10)
    queue.start()
    yield engine, queue
    engine.gate.set()
    await queue.stop()


async def test_concurrent_channels_are_batched(rig: Rig) -> None:
    engine, queue = rig
    engine.gate.clear()  # hold the worker so all four are waiting together
    tasks = [asyncio.create_task(queue.submit(request(f"c{i}"))) for i in range(4)]
    await asyncio.sleep(0.05)
    engine.gate.set()
    results = await asyncio.gather(*tasks)
    assert max(engine.batch_sizes) == 4
    assert {r.text for r in results} == {f"reply {i}" for i in range(1, 5)}
    assert max(r.batch_size for r in results) == 4
    assert queue.stats().largest_batch == 4 and queue.stats().completed == 4


async def test_first_come_first_served_when_the_batch_is_full() -> None:
    engine = ScriptedEngine(max_batch=1, steps=2)
    queue = InferenceQueue(engine, max_queue=8, timeout_s=10)
    queue.start()
    engine.gate.clear()
    tasks = []
    for channel in ("a", "a", "b", "a"):  # ids 1..4; fairness across channels is the handler's job
        tasks.append(asyncio.create_task(queue.submit(request(channel))))
        await asyncio.sleep(0.01)
    engine.gate.set()
    await asyncio.gather(*tasks)
    await queue.stop()
    assert [r.request_id for r in engine.admitted] == [1, 2, 3, 4]


async def test_a_request_that_would_wait_too_long_is_busy_at_once() -> None:
    engine = ScriptedEngine(max_batch=2, steps=30, step_s=0.01)  # a reply takes about 0.3 s
    queue = InferenceQueue(engine, max_queue=100, timeout_s=10, max_wait_s=0.5)
    queue.start()
    await queue.submit(request("warm-up"))  # the queue learns how long a reply takes
    tasks = [asyncio.create_task(queue.submit(request(f"c{i}"))) for i in range(12)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    await queue.stop()
    busy = [r for r in results if isinstance(r, QueueFull)]
    # 2 rows, ~0.3 s a reply: the 2 running and ~3 waiting start within 0.5 s; the rest are told at once
    assert 4 <= len(results) - len(busy) <= 7 and len(busy) == 12 - (len(results) - len(busy))
    assert queue.stats().rejected == len(busy)


async def test_full_queue_rejects_at_once() -> None:
    engine = ScriptedEngine(max_batch=1, steps=1)
    engine.gate.clear()
    queue = InferenceQueue(engine, max_queue=2, timeout_s=10)
    queue.start()
    try:
        first = asyncio.create_task(queue.submit(request("a")))
        await until(lambda: queue.stats().running == 1)  # admitted: running, not waiting
        waiting = [asyncio.create_task(queue.submit(request(c))) for c in ("b", "c")]
        await asyncio.sleep(0.02)
        with pytest.raises(QueueFull):
            await asyncio.wait_for(queue.submit(request("d")), 0.5)
        assert queue.stats().rejected == 1 and queue.stats().waiting == 2
        engine.gate.set()
        await asyncio.gather(first, *waiting)
    finally:
        engine.gate.set()
        await queue.stop()


async def test_cancel_channel_cancels_waiting_and_running(rig: Rig) -> None:
    engine, queue = rig
    engine.gate.clear()
    tasks = [asyncio.create_task(queue.submit(request("x"))) for _ in range(2)]
    other = asyncio.create_task(queue.submit(request("y")))
    await asyncio.sleep(0.05)
    assert queue.cancel_channel("x") == 2
    engine.gate.set()
    for task in tasks:
        with pytest.raises(GenerationCancelled):
            await task
    assert (await other).text.startswith("reply")


async def test_timeout_frees_the_slot() -> None:
    engine = ScriptedEngine(max_batch=1, steps=1000, step_s=0.001)
    queue = InferenceQueue(engine, max_queue=4, timeout_s=0.2)
    queue.start()
    try:
        with pytest.raises(GenerationTimeout):
            await queue.submit(request("slow"))
        engine.steps = 1
        assert (await queue.submit(request("next"))).text.startswith("reply")
    finally:
        await queue.stop()


async def test_step_failure_fails_running_requests_and_keeps_serving(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    engine, queue = rig
    engine.fail_next_step = True
    with caplog.at_level(logging.ERROR), pytest.raises(GenerationError):
        await queue.submit(request("a"))
    assert "inference step failed" in caplog.text
    assert (await queue.submit(request("a"))).text.startswith("reply")


async def test_a_partly_failed_step_fails_only_its_request(rig: Rig) -> None:
    engine, queue = rig
    engine.steps = 1
    engine.gate.clear()
    doomed = asyncio.create_task(queue.submit(request("a")))  # request 1
    healthy = asyncio.create_task(queue.submit(request("b")))  # request 2
    await until(lambda: queue.stats().running == 2)
    engine.fail_request = 1
    engine.gate.set()
    with pytest.raises(GenerationError):
        await doomed
    assert (await healthy).text == "reply 2"  # finished in the failed step, still delivered


async def test_prompt_that_cannot_fit_is_an_error(rig: Rig) -> None:
    _, queue = rig
    with pytest.raises(GenerationError, match="too long"):
        await queue.submit(request("a", prompt_len=1020))


async def test_stop_cancels_everything() -> None:
    engine = ScriptedEngine(max_batch=1, steps=1)
    engine.gate.clear()
    queue = InferenceQueue(engine, max_queue=4, timeout_s=10)
    queue.start()
    tasks = [asyncio.create_task(queue.submit(request(c))) for c in "abc"]
    await asyncio.sleep(0.05)
    stopping = asyncio.create_task(queue.stop())
    await asyncio.sleep(0.01)
    engine.gate.set()
    await stopping
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert any(isinstance(r, GenerationCancelled) for r in results)
    with pytest.raises(GenerationCancelled):
        await queue.submit(request("late"))


async def test_streamed_text_grows_to_the_reply(tokenizer) -> None:
    """The real engine behind the queue: `on_text` sees growing prefixes of the final text,
    on the event loop thread, and a failing callback does not hurt the generation."""
    engine = make_engine(tiny_model(seed=6), tokenizer)
    queue = InferenceQueue(engine, timeout_s=30)
    queue.start()
    seen: list[str] = []
    threads: set[int] = set()

    def on_text(text: str) -> None:
        seen.append(text)
        threads.add(threading.get_ident())

    def broken(text: str) -> None:
        raise RuntimeError("a broken adapter")

    params = sampling_params(do_sample=False, max_new_tokens=40, repetition_penalty=1.0, no_repeat_ngram_size=0)
    prompt = tuple(tokenizer.encode("Alice: hello there\nBob:"))
    try:
        generation = await queue.submit(GenerationRequest(prompt, params, "c1"), on_text)
        again = await queue.submit(GenerationRequest(prompt, params, "c1"), broken)
    finally:
        await queue.stop()
    assert len(seen) >= 2 and threads == {threading.get_ident()}
    assert all(a != b and b.startswith(a) for a, b in itertools.pairwise(seen))
    assert generation.text.startswith(seen[-1]) and again.text == generation.text
