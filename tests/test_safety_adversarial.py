"""Hostile input cannot freeze the bot: every check, and every pattern the checker runs, is
linear-time on adversarial text.

A backtracking regular expression or a quadratic loop turns one long message (or one long
generated reply) into minutes of CPU on the event loop. Each shape below is 20,000
characters; one check must take under 0.5 s of CPU time in either direction (linear code
takes 0.02-0.3 s here, the most for 10,000 one-letter sentences), and each compiled pattern
of `bot.safety` under 0.1 s on each shape (a slow-looking run is repeated; see `_best`).
CPU time, not the wall clock: on a shared machine the wall clock also counts the time spent
waiting for a core, which says nothing about the code.
The timings run in a subprocess with a deadline, so a regression fails here instead of
hanging the test run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

N = 20_000
CHECK_BOUND_S = 0.5
PATTERN_BOUND_S = 0.1
DEADLINE_S = 300
ROOT = Path(__file__).resolve().parents[1]


def _fill(unit: str, n: int = N) -> str:
    return (unit * (n // len(unit) + 1))[:n]


def shapes() -> dict[str, str]:
    half = N // 2
    out = {
        # runs of separators: GPT-2 writes separator lines; spaced-letter matchers backtrack on them
        "dash run pair": "cere " + "-" * (half - 5) + " " + "-" * (half - 1),
        "hello + dash runs": "hello " + "-" * (half - 6) + " " + "-" * (half - 1),
        "dashes": _fill("-"),
        "dots": _fill("."),
        "dot space": _fill(". "),
        "spaces": _fill(" "),
        "underscores": _fill("_"),
        "stars": _fill("*"),
        "double dash": _fill("--"),
        "dash space": _fill("- "),
        # long letter runs and alternations
        "one letter": _fill("a"),
        "letters then bang": "a" * (N - 1) + "!",
        "two letters": _fill("ab"),
        "camel humps": _fill("aB"),
        "capital humps": _fill("Ab"),
        "long words with a hump": _fill("a" * 50 + "B"),
        "upper case": _fill("A"),
        "spaced letters": _fill("a "),
        "spaced profanity": _fill("f u c k "),
        "dotted letters": _fill("a."),
        "dotted profanity": _fill("f.u.c.k."),
        "dashed letters": _fill("a-"),
        "double-spaced letters": _fill("a  "),
        "leet run": _fill("sh1t"),
        "leet symbols": _fill("@$!*"),
        "repeated word": _fill("women "),
        "hateful sentence, no full stop": _fill("women are vermin and "),
        "one group noun": _fill("muslims "),
        "threat words": _fill("i will kill you "),
        "ordinary prose": _fill("the quick brown fox jumps over the lazy dog "),
        "quotes": _fill('"'),
        "apostrophes": _fill("n't "),
        # URLs, emails, digits, tokens
        "long url": "https://example.com/" + _fill("a/", N - 20),
        "dotted labels": _fill("a.b."),
        "domain-ish": _fill("a1-b."),
        "long email local part": _fill("a", N - 12) + "@example.com",
        "at signs": _fill("a@"),
        "email-ish": _fill("a@b."),
        "slashes": _fill("/"),
        "url schemes": _fill("http://"),
        "www": _fill("www."),
        "digits": _fill("1"),
        "digit groups": _fill("12 "),
        "dashed digits": _fill("123-"),
        "dotted digits": _fill("1."),
        "version-ish": _fill("1.2."),
        "plus digits": _fill("+1 "),
        "parenthesised digits": _fill("(1) "),
        "token prefixes": _fill("xoxb-"),
        "npm prefixes": _fill("npm_"),
        "aws prefixes": _fill("AKIA"),
        "assignments": _fill("token="),
        "base64-ish": _fill("aZ09_-"),
        "key headers": _fill("-----BEGIN "),
        "markdown links": _fill("[a]("),
        "slack links": _fill("<http://a|"),
        "mentions": _fill("<@1"),
        "slack specials": _fill("<!"),
        # unicode
        "cyrillic look-alikes": _fill("аеорсух"),
        "zero-width flood": "\u200b" * (N - 5) + "hello",
        "zero-width between letters": _fill("f\u200b"),
        "combining marks": _fill("a\u0301"),
        "ligatures": _fill("ﬀ"),
        "emoji": _fill("🙂"),
        "full-width": _fill("Ｆｕｃｋ"),
        "newlines": _fill("a\n"),
    }
    assert all(len(t) == N for t in out.values()), [k for k, t in out.items() if len(t) != N]
    return out


def _patterns() -> Iterator[tuple[str, Any]]:
    """Every compiled pattern held by a `bot.safety` module (also inside tuples), and the
    secret patterns taken from detect-secrets."""
    import importlib
    import pkgutil

    import bot.safety as pkg

    def walk(name: str, value: object, depth: int = 0) -> Iterator[tuple[str, Any]]:
        if isinstance(value, re.Pattern):
            yield name, value
        elif isinstance(value, tuple | list) and depth < 3:
            for i, item in enumerate(value):
                yield from walk(f"{name}[{i}]", item, depth + 1)

    for info in pkgutil.iter_modules(pkg.__path__):
        module = importlib.import_module(f"bot.safety.{info.name}")
        for attr, value in vars(module).items():
            yield from walk(f"{info.name}.{attr}", value)
    from bot.safety.credentials import library_patterns

    for rule, pattern in library_patterns():  # detect-secrets' patterns (RE2 or re)
        yield f"detect-secrets {rule}", pattern


def _best(run: Callable[[], object], bound: float) -> float:
    """CPU seconds of `run`; a run over a fifth of the bound is repeated twice and the best
    kept, since even CPU time wobbles when the machine is shared."""
    took = bound
    for attempt in range(3):
        start = time.thread_time()
        run()
        took = min(took, time.thread_time() - start)
        if attempt == 0 and took < bound / 5:
            break
    return took


def measure() -> None:
    """Run in the subprocess: one JSON line per measurement, flushed as it goes."""
    from bot.safety import Checker, Direction, Preset, resolve

    checker = Checker()
    policy = resolve([], Preset.STANDARD)
    checker.check("warm up the lexicons", policy, Direction.INPUT)
    texts = shapes()
    for name, text in texts.items():
        for d in Direction:
            took = _best(lambda: checker.check(text, policy, d), CHECK_BOUND_S)  # noqa: B023 (called at once)
            print(json.dumps({"kind": "check", "what": f"{name} ({d.value})", "s": took}), flush=True)
    for pname, pattern in _patterns():
        worst, worst_shape = 0.0, ""
        for name, text in texts.items():
            took = _best(lambda: sum(1 for _ in pattern.finditer(text)), PATTERN_BOUND_S)  # noqa: B023
            if took > worst:
                worst, worst_shape = took, name
        print(json.dumps({"kind": "pattern", "what": f"{pname} on {worst_shape}", "s": worst}), flush=True)


def _run() -> list[dict[str, object]]:
    code = "from tests.test_safety_adversarial import measure; measure()"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE_S, check=True
        )
        out = proc.stdout
    except subprocess.TimeoutExpired as exc:
        done = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        last = done.strip().splitlines()[-1:] or ["(nothing measured)"]
        raise AssertionError(f"checks did not finish within {DEADLINE_S} s; last finished: {last}") from None
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_adversarial_text_is_checked_in_linear_time() -> None:
    results = _run()
    checks = [r for r in results if r["kind"] == "check"]
    patterns = [r for r in results if r["kind"] == "pattern"]
    assert len(checks) == 2 * len(shapes()) and len(patterns) >= 50
    slow = [(r["what"], round(float(r["s"]), 3)) for r in checks if float(r["s"]) >= CHECK_BOUND_S]  # type: ignore[arg-type]
    assert not slow, slow
    slow = [(r["what"], round(float(r["s"]), 3)) for r in patterns if float(r["s"]) >= PATTERN_BOUND_S]  # type: ignore[arg-type]
    assert not slow, slow
