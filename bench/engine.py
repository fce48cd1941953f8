"""Inference engine benchmark: `BatchEngine` against `transformers` `generate`.

For each device it prints one table, all numbers measured in the same run:

* ms per decode step at batch 1;
* tok/s with C concurrent requests (prompt 256 tokens, 100 new tokens);
* p50/p95 time to a full reply with N requests arriving evenly over one second;
* the next turn of a conversation, with and without the prefix cache;
* what a beam-search reply costs the replies decoding beside it: it runs on a thread of its
  own (HF `generate`), so their steps slow down by the shared cores, never stall for it.

Baselines: HF `generate` one request at a time (what a naive bot does) and HF `generate` on
all requests at once (static batching). Weights are random (no model hub here), built from
the named model's GPT2Config, so speed is real and text is noise. EOS is disabled on both
sides, so every reply is exactly `--new-tokens` long.

    python bench/engine.py --device cpu --model gpt2                      # CPU, a few minutes
    python bench/engine.py --device cuda --model gpt2-medium --dtype float16
    python bench/engine.py --device cuda --model gpt2-xl --dtype float16 --rows step,c64
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel

from bot.inference.engine import BatchEngine
from bot.inference.prefixes import PrefixCache
from bot.inference.tokenizer import packaged_tokenizer
from bot.inference.types import EngineRequest, ModelInfo, SamplingParams
from bot.settings import sampling_params

__all__ = ["main"]

SIZES = {  # n_embd, n_layer, n_head
    "distilgpt2": (768, 6, 12),
    "gpt2": (768, 12, 12),
    "gpt2-medium": (1024, 24, 16),
    "gpt2-large": (1280, 36, 20),
    "gpt2-xl": (1600, 48, 25),
}
ROWS = ("step", "c8", "c32", "c64", "latency", "turn", "beam")


@dataclass(frozen=True)
class Setup:
    model: GPT2LMHeadModel
    engine: BatchEngine
    device: torch.device
    prompt_len: int
    new_tokens: int
    serial_cap: int
    seed: int = 0

    def prompts(self, count: int) -> list[list[int]]:
        g = torch.Generator().manual_seed(self.seed + count)
        return torch.randint(0, 50000, (count, self.prompt_len), generator=g).tolist()

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()


GREEDY = sampling_params(do_sample=False, repetition_penalty=1.0, no_repeat_ngram_size=0)


def _build(name: str, device: torch.device, dtype: torch.dtype) -> GPT2LMHeadModel:
    n_embd, n_layer, n_head = SIZES[name]
    config = GPT2Config(n_embd=n_embd, n_layer=n_layer, n_head=n_head)
    torch.manual_seed(0)
    with device:
        model = GPT2LMHeadModel(config)
    return model.to(dtype).eval()  # type: ignore[arg-type]


def _hf(setup: Setup, prompts: Sequence[Sequence[int]], new_tokens: int) -> float:
    """Seconds for one `generate` call over `prompts` (equal lengths: no padding)."""
    ids = torch.tensor(list(prompts), device=setup.device)
    config = GenerationConfig(do_sample=False, max_new_tokens=new_tokens, eos_token_id=None, pad_token_id=0)
    setup.sync()
    start = time.perf_counter()
    with torch.inference_mode():
        out = setup.model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=config)
    setup.sync()
    elapsed = time.perf_counter() - start
    assert isinstance(out, torch.Tensor) and out.shape[1] == ids.shape[1] + new_tokens
    return elapsed


def _ours(setup: Setup, prompts: Sequence[Sequence[int]], new_tokens: int) -> list[float]:
    """Run all prompts through the engine at once; returns each step's seconds."""
    params = SamplingParams(**{**GREEDY.__dict__, "max_new_tokens": new_tokens})
    for i, prompt in enumerate(prompts):
        setup.engine.add(EngineRequest(i, tuple(prompt), params))
    times = []
    while setup.engine.active():
        start = time.perf_counter()
        setup.engine.step()
        times.append(time.perf_counter() - start)
    return times


def row_step(setup: Setup) -> tuple[str, float, float, float | None]:
    """Median step time over 48 decode steps (ours) against HF's (t(49 tokens) - t(1))/48;
    the best of three runs each, ours and HF's taken in turn so that a busy spell on a shared
    machine does not fall on one side only."""
    steps = 48
    prompt = setup.prompts(1)
    ours, hf = [], []
    for _ in range(3):
        ours.append(statistics.median(_ours(setup, prompt, steps + 1)[1:]))
        hf.append((_hf(setup, prompt, steps + 1) - _hf(setup, prompt, 1)) / steps)
    return "decode ms/step, batch 1 (lower is better)", min(ours) * 1e3, min(hf) * 1e3, None


def row_concurrent(setup: Setup, count: int) -> tuple[str, float, float, float | None]:
    prompts, n = setup.prompts(count), setup.new_tokens
    start = time.perf_counter()
    _ours(setup, prompts, n)
    ours = count * n / (time.perf_counter() - start)
    measured = prompts[: setup.serial_cap]
    serial = len(measured) * n / sum(_hf(setup, [p], n) for p in measured)
    batched = count * n / _hf(setup, prompts, n)
    label = f"tok/s, {count} concurrent"
    if len(measured) < count:
        label += f" (HF 1-at-a-time: {len(measured)} of {count} run; its rate is per request)"
    return label, ours, serial, batched


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(latencies, n=20, method="inclusive")
    return statistics.median(latencies), q[18]


def _arrivals(count: int) -> list[float]:
    return [i / count for i in range(count)]


def _latency_ours(setup: Setup, prompts: list[list[int]]) -> list[float]:
    params = SamplingParams(**{**GREEDY.__dict__, "max_new_tokens": setup.new_tokens})
    arrivals, added = _arrivals(len(prompts)), 0
    done: dict[int, float] = {}
    start = time.perf_counter()
    while len(done) < len(prompts):
        now = time.perf_counter() - start
        while added < len(prompts) and arrivals[added] <= now:
            setup.engine.add(EngineRequest(added, tuple(prompts[added]), params))
            added += 1
        if not setup.engine.active():
            time.sleep(max(0.0, arrivals[added] - now))
            continue
        for update in setup.engine.step().updates:
            if update.finished:
                rid = update.request_id
                done[rid] = time.perf_counter() - start - arrivals[rid]
    return list(done.values())


def _latency_hf(setup: Setup, prompts: list[list[int]], batch: bool) -> tuple[list[float], str]:
    """FIFO server: one request per `generate` (serial) or everything that has arrived."""
    arrivals, latencies, note = _arrivals(len(prompts)), [], ""
    start, i = time.perf_counter(), 0
    served: list[float] = []
    clock = 0.0  # modelled time once the serial cap is reached
    while i < len(prompts):
        if not batch and len(served) >= setup.serial_cap:
            mean = statistics.mean(served)
            for j in range(i, len(prompts)):
                clock = max(clock, arrivals[j]) + mean
                latencies.append(clock - arrivals[j])
            note = f" (HF 1-at-a-time: {len(served)} run, the rest modelled at their mean)"
            break
        now = time.perf_counter() - start
        if arrivals[i] > now:
            time.sleep(arrivals[i] - now)
            now = arrivals[i]
        group = [j for j in range(i, len(prompts)) if arrivals[j] <= now] if batch else [i]
        served.append(_hf(setup, [prompts[j] for j in group], setup.new_tokens))
        clock = time.perf_counter() - start
        latencies.extend(clock - arrivals[j] for j in group)
        i = group[-1] + 1
    return latencies, note


def row_latency(setup: Setup, count: int) -> list[tuple[str, float, float, float | None]]:
    prompts = setup.prompts(count)
    ours = _percentiles(_latency_ours(setup, prompts))
    serial_lat, note = _latency_hf(setup, prompts, batch=False)
    serial = _percentiles(serial_lat)
    batched = _percentiles(_latency_hf(setup, prompts, batch=True)[0])
    label = f"{count} requests over 1 s: s to full reply"
    return [
        (f"{label}, p50 (lower is better){note}", ours[0], serial[0], batched[0]),
        (f"{label}, p95 (lower is better)", ours[1], serial[1], batched[1]),
    ]


def _reply(setup: Setup, prompt: Sequence[int], new_tokens: int) -> tuple[float, tuple[int, ...]]:
    """Seconds to a full reply from the engine, and its tokens."""
    params = SamplingParams(**{**GREEDY.__dict__, "max_new_tokens": new_tokens})
    setup.engine.add(EngineRequest(0, tuple(prompt), params))
    start = time.perf_counter()
    while True:
        for update in setup.engine.step().updates:
            if update.finished and update.generation is not None:
                return time.perf_counter() - start, update.generation.token_ids


def table_turn(setup: Setup, budget: int, history: int = 700, line: int = 20) -> str:
    """The next turn of a conversation: the last prompt (`history` tokens), its reply and a new
    line of `line` tokens. Ours with the prefix cache (the last turn's keys/values reused),
    ours without it, and HF `generate` (which always reads the whole prompt)."""
    g = torch.Generator().manual_seed(setup.seed + 7)
    first = torch.randint(0, 50000, (history,), generator=g).tolist()
    extra = torch.randint(0, 50000, (line,), generator=g).tolist()
    cache, n = PrefixCache(budget), setup.new_tokens
    times: dict[str, float] = {}
    for label, prefixes in (("on", cache), ("off", None)):
        setup.engine.prefixes = prefixes
        _, reply = _reply(setup, first, n)
        times[label], _ = _reply(setup, [*first, *reply, *extra], n)
    setup.engine.prefixes = None
    prompt = history + n + line
    hf = _hf(setup, [[*first, *([0] * n), *extra]], n)  # same length; HF's speed does not depend on the ids
    reused = f"{cache.reused_tokens} of them reused" if cache.hits else "none reused"
    return "\n".join(
        [
            f"| next turn: {prompt}-token prompt ({reused}), s to a full {n}-token reply | ours, prefix cache "
            "| ours, no prefix cache | HF generate |",
            "| --- | --- | --- | --- |",
            f"| (lower is better) | {times['on']:.2f} | {times['off']:.2f} | {hf:.2f} |",
        ]
    )


def table_beam(setup: Setup, rows: int = 8, beams: int = 4, beam_tokens: int = 60) -> str:
    """Step times of `rows` greedy replies, before and while a `num_beams` reply runs beside them."""
    engine, params = setup.engine, SamplingParams(**{**GREEDY.__dict__, "max_new_tokens": 1024 - setup.prompt_len})
    for i, prompt in enumerate(setup.prompts(rows)):
        engine.add(EngineRequest(1000 + i, tuple(prompt), params))
    engine.step()  # prefill
    plain = [_timed_step(engine) for _ in range(10)]
    beam = SamplingParams(**{**GREEDY.__dict__, "num_beams": beams, "max_new_tokens": beam_tokens})
    engine.add(EngineRequest(2000, tuple(setup.prompts(1)[0]), beam))
    started, beside = time.perf_counter(), []
    while 2000 in engine._ids:
        beside.append(_timed_step(engine))
    beam_s = time.perf_counter() - started
    for i in range(rows):
        engine.cancel(1000 + i)
    while engine.active():
        engine.step()
    started = time.perf_counter()  # alone: what a beam run inside the step stalled every row for
    engine.add(EngineRequest(2001, tuple(setup.prompts(1)[0]), beam))
    while engine.active():
        engine.step()
    alone_s = time.perf_counter() - started
    return "\n".join(
        [
            f"| {rows} greedy replies, with a num_beams={beams}, {beam_tokens}-token reply beside them | ms |",
            "| --- | --- |",
            f"| decode step, before (median of 10) | {statistics.median(plain) * 1e3:,.1f} |",
            f"| decode step while the beam reply runs (median / longest of {len(beside)}) | "
            f"{statistics.median(beside) * 1e3:,.1f} / {max(beside) * 1e3:,.1f} |",
            f"| the beam reply, beside the rows | {beam_s * 1e3:,.1f} |",
            f"| the beam reply alone (a beam run inside the step stalled every row this long) | {alone_s * 1e3:,.1f} |",
        ]
    )


def _timed_step(engine: BatchEngine) -> float:
    start = time.perf_counter()
    engine.step()
    return time.perf_counter() - start


def _ratio(ours: float, other: float | None, lower_is_better: bool) -> str:
    if other is None or other == 0 or ours == 0:
        return "—"
    return f"{(other / ours if lower_is_better else ours / other):.2f}×"


def _table(rows: list[tuple[str, float, float, float | None]]) -> str:
    lines = [
        "| measure | ours | HF 1-at-a-time | HF batched | ours vs 1-at-a-time | ours vs batched |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, ours, serial, batched in rows:
        lower = "lower is better" in label
        cells = [f"{ours:,.1f}", f"{serial:,.1f}", "—" if batched is None else f"{batched:,.1f}"]
        ratios = [_ratio(ours, serial, lower), _ratio(ours, batched, lower)]
        lines.append(f"| {label} | {' | '.join(cells)} | {' | '.join(ratios)} |")
    return "\n".join(lines)


def run_device(args: argparse.Namespace, device: torch.device) -> None:
    dtype = getattr(torch, args.dtype) if args.dtype != "auto" else None
    dtype = dtype or (torch.float32 if device.type == "cpu" else torch.float16)
    start = time.perf_counter()
    model = _build(args.model, device, dtype)
    info = ModelInfo(args.model, str(device), str(dtype), 1024, model.num_parameters(), -1)
    graphs = None if args.cuda_graphs == "auto" else args.cuda_graphs == "on"
    engine = BatchEngine(
        model,
        packaged_tokenizer(),
        info,
        max_batch=64,
        cuda_graphs=graphs,
        max_prefill_tokens=args.prefill_budget,
    )  # no prefix cache: the rows above use fresh prompts; `turn` adds one
    cap = args.serial_cap or (4 if device.type == "cpu" else 16)
    setup = Setup(model, engine, device, args.prompt_len, args.new_tokens, cap)
    ready = time.perf_counter() - start
    _ours(setup, setup.prompts(2), 4)  # warm-up both sides
    _hf(setup, setup.prompts(2)[:1], 4)
    rows: list[tuple[str, float, float, float | None]] = []
    extra: list[str] = []
    plan: dict[str, Callable[[], None]] = {
        "turn": lambda: extra.append(table_turn(setup, args.prefix_cache_mb * 1_000_000)),
        "beam": lambda: extra.append(table_beam(setup)),
        "step": lambda: rows.append(row_step(setup)),
        "c8": lambda: rows.append(row_concurrent(setup, 8)),
        "c32": lambda: rows.append(row_concurrent(setup, 32)),
        "c64": lambda: rows.append(row_concurrent(setup, 64)),
        "latency": lambda: rows.extend(row_latency(setup, args.latency_requests)),
    }
    for name in args.rows.split(","):
        plan[name]()
        print(f"  ... {name} done ({time.perf_counter() - start:.0f} s)", flush=True)
    cpu = device.type == "cpu"
    where = f"{torch.get_num_threads()} threads" if cpu else torch.cuda.get_device_name(device)
    print(
        f"\n### {args.model} (random weights), {device} ({where}), {str(dtype)[6:]}, "
        f"prompt {args.prompt_len} + {args.new_tokens} new tokens, greedy, EOS off; "
        f"CUDA graphs {'on' if engine._graphs else 'off'}; engine ready in {ready:.1f} s\n"
    )
    if rows:
        print(_table(rows), flush=True)
    for table in extra:
        print(f"\n{table}", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="gpt2", choices=sorted(SIZES))
    parser.add_argument("--device", default="cpu", help="comma list, e.g. cpu,cuda")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "float16", "bfloat16"])
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma list of {ROWS}")
    parser.add_argument("--prompt-len", type=int, default=256)
    parser.add_argument("--new-tokens", type=int, default=100)
    parser.add_argument("--latency-requests", type=int, default=32)
    parser.add_argument(
        "--serial-cap",
        type=int,
        default=None,
        help="HF one-at-a-time runs at most this many requests per row (default: 4 on CPU, 16 on CUDA)",
    )
    parser.add_argument("--prefill-budget", type=int, default=4096)
    parser.add_argument("--cuda-graphs", default="auto", choices=["auto", "on", "off"])
    parser.add_argument("--prefix-cache-mb", type=int, default=512, help="the bot's default (0 = off)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in args.device.split(","):
        run_device(args, torch.device(name))


if __name__ == "__main__":
    main()
