"""HateCheck (Röttger et al., ACL 2021, CC BY 4.0): load the cases and split them honestly.

The data is read from where the project keeps it (``GPT2BOT_HATECHECK``, default
``/work/shared/data/hatecheck/test_suite_cases.csv``); it is never copied into the repo.

The split is by *template family*: HateCheck builds each case from a template, and many
templates derive from another one (a spelling variant, a counter-quote, a negation of a
base template records it in ``ref_templ_id``). Templates linked that way form one family,
and a family is wholly in ``dev`` (used to choose thresholds and build lexicons) or wholly
in ``heldout`` (only ever measured). Families are stratified by the set of functionalities
they contain, then assigned alternately in a fixed hash order, so the split is stable and
no sentence shape seen in ``dev`` appears in ``heldout``.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

__all__ = ["HATECHECK_ENV", "Case", "hatecheck_path", "load_cases", "split_cases"]

HATECHECK_ENV = "GPT2BOT_HATECHECK"
_DEFAULTS = (
    Path("/work/shared/data/hatecheck/test_suite_cases.csv"),
    Path(__file__).resolve().parents[2] / "shared/data/hatecheck/test_suite_cases.csv",
)
_SALT = "gpt2bot-safety-split-v1"


@dataclass(frozen=True)
class Case:
    text: str
    hateful: bool
    functionality: str
    target: str
    templ_id: str
    family: str = ""
    part: str = ""  # "dev" | "heldout"


def hatecheck_path() -> Path:
    """The CSV path; raises FileNotFoundError with the fix when it is missing."""
    env = os.environ.get(HATECHECK_ENV)
    candidates = (Path(env),) if env else _DEFAULTS
    for path in candidates:
        if path.is_file():
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise FileNotFoundError(
        f"HateCheck test_suite_cases.csv not found (tried {tried}); set {HATECHECK_ENV}=/path/to/test_suite_cases.csv"
    )


def _int_id(value: str) -> str:
    return str(int(float(value))) if value else ""


def load_cases(path: Path | None = None) -> list[Case]:
    """All cases, each tagged with its template family and its part of the split."""
    with (path or hatecheck_path()).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    parent: dict[str, str] = {}

    def find(t: str) -> str:
        while parent.setdefault(t, t) != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for row in rows:
        templ, ref = _int_id(row["templ_id"]), _int_id(row["ref_templ_id"])
        find(templ)
        if ref:
            a, b = find(templ), find(ref)
            if a != b:
                parent[max(a, b, key=int)] = min(a, b, key=int)
    cases = [
        Case(
            text=row["test_case"].strip(),
            hateful=row["label_gold"] == "hateful",
            functionality=row["functionality"],
            target=row["target_ident"],
            templ_id=_int_id(row["templ_id"]),
            family=find(_int_id(row["templ_id"])),
        )
        for row in rows
    ]
    return split_cases(cases)


def split_cases(cases: list[Case]) -> list[Case]:
    """Assign whole families to dev/heldout, stratified by their functionality mix."""
    kinds: dict[str, set[str]] = defaultdict(set)
    for case in cases:
        kinds[case.family].add(case.functionality)
    strata: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for family, funcs in kinds.items():
        strata[tuple(sorted(funcs))].append(family)
    part: dict[str, str] = {}
    for n, key in enumerate(sorted(strata)):
        families = sorted(strata[key], key=lambda f: hashlib.sha256(f"{_SALT}:{f}".encode()).hexdigest())
        for i, family in enumerate(families):
            part[family] = "dev" if (i + n) % 2 == 0 else "heldout"
    return [Case(c.text, c.hateful, c.functionality, c.target, c.templ_id, c.family, part[c.family]) for c in cases]
