"""The same message gets the same verdict in every process: no decision may depend on
set iteration order, which changes with PYTHONHASHSEED."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "safety"
# Obfuscations whose repair has more than one candidate word (typo variants that two
# lexicon words share), where set order used to pick the winner.
AMBIGUOUS = [
    "muslms are scum",
    "klil them",
    "wimmen are trash",
    "gyas are freaks",
    "retrads",
    "imigrants r rats",
    "fagots",
    "nigers",
    "trannys",
    "jwes are rats",
    "muzlims",
    "scmu",
    "vremin",
    "ihatethem",
    "gaypeopel",
    "f u c k",
    "sh1t",
    "b1tch",
    "c0ck",
    "h8 them",
    "kil u",
    "stabb u",
    "rapsits",
    "paki5",
    "d1ck",
    "onkeys",
    "inect",
    "abored",
    "banihs",
    "sterilie",
    "pacest",
    "atter",
    "saper",
    "burs",
    "iler",
]


def texts() -> list[str]:
    out = list(AMBIGUOUS)
    for path in sorted(FIXTURES.iterdir()):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                out.append(line.rsplit("\t", 1)[-1])
    return out


def digest() -> None:
    """Run in the subprocess: print one hash of every normalisation and every verdict."""
    from bot.safety import Checker, Direction, Preset, resolve
    from bot.safety.normalise import normalise

    checker = Checker()
    h = hashlib.sha256()
    for text in texts():
        h.update(f"{text}|{normalise(text).text}\n".encode())
    for preset in (Preset.STANDARD, Preset.STRICT):
        policy = resolve([], preset)
        for text in texts():
            for direction in Direction:
                v = checker.check(text, policy, direction)
                cats = ",".join(c.value for c in v.categories)
                scores = ",".join(f"{c.value}={s}" for c, s in sorted(v.scores.items(), key=lambda x: x[0].value))
                h.update(f"{text}|{v.action.name}|{cats}|{scores}|{','.join(v.rule_ids)}|{v.text_out}\n".encode())
    print(h.hexdigest())


def _run(seed: str) -> str:
    code = "from tests.test_safety_determinism import digest; digest()"
    env = {"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


def test_verdicts_do_not_depend_on_the_hash_seed() -> None:
    first, second = _run("1"), _run("2")
    assert len(first) == 64 and first == second
