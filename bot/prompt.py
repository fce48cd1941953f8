"""The transcript prompt GPT-2 continues, trimmed exactly to the window with its tokenizer.

GPT-2 is not instruction-tuned, so the prompt is a transcript:

    <persona line>
    Ann: hi there
    GPT-2: hello!
    Ann: how are you?
    GPT-2:

Lines are tokenized one by one and joined with the newline token. Every line is stripped,
so it starts and ends with a non-space character; GPT-2's pre-tokenizer then always
splits at the newline, and the joined ids are exactly what encoding the whole transcript
gives. Oldest turns are dropped first until prompt + max_new_tokens fits the window; the
persona line is kept; a single turn longer than the window keeps its end.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from bot.inference.tokenizer import EOS_TOKEN

__all__ = ["MAX_STOP_STRINGS", "SPEAKER_STOP", "Prompt", "Transcript", "Turn", "clean_name", "clean_text"]

# A new line that starts another speaker ("\nAnn:"), but not a URL ("\nhttps://").
SPEAKER_STOP = r"\n[^\n:]{1,40}:(?!//)"
MAX_STOP_STRINGS = 8
_NAME_MAX = 32
_SPACES = re.compile(r"[ \t\r\f\v]+")


@dataclass(frozen=True)
class Turn:
    name: str
    text: str


@dataclass(frozen=True)
class Prompt:
    ids: tuple[int, ...]
    turns_used: int  # turns (whole or cut) that made it into the prompt
    turns_dropped: int  # older turns left out to fit the window
    first_turn_cut: bool  # the oldest kept turn was longer than the room left and keeps its end
    budget: int  # the most prompt tokens allowed: n_positions - max_new_tokens
    # "\nName:" for the speakers of the kept turns, most recent first: what SPEAKER_STOP will most
    # likely match, as literal strings for servers whose `stop` takes no regex
    stop_strings: tuple[str, ...] = ()


def clean_name(name: str) -> str:
    """A speaker name that cannot break the transcript format."""
    flat = _SPACES.sub(" ", name.replace("\n", " ").replace(":", "")).strip()
    return flat[:_NAME_MAX].strip() or "someone"


def clean_text(text: str) -> str:
    """Turn text as the model sees it: no end-of-text marker, stripped."""
    return text.replace(EOS_TOKEN, "").strip()


class Transcript:
    def __init__(self, tokenizer: PreTrainedTokenizerBase, bot_name: str, n_positions: int = 1024) -> None:
        self._tokenizer = tokenizer
        self.bot_name = clean_name(bot_name)
        self.n_positions = n_positions
        self._newline = self._encode("\n")
        self._bot_prompt = self._encode(f"{self.bot_name}:")

    def line(self, name: str, text: str) -> str:
        return f"{clean_name(name)}: {clean_text(text)}".rstrip()

    def build(self, persona: str, turns: Sequence[Turn], max_new_tokens: int) -> Prompt:
        """The prompt ids for `turns` (oldest first), trimmed so prompt + max_new_tokens fits."""
        budget = self.n_positions - max_new_tokens
        if budget < len(self._bot_prompt) + 1:
            raise ValueError(f"max_new_tokens={max_new_tokens} leaves no room in a {self.n_positions}-token window")
        head = self._persona_ids(persona, budget)
        room = budget - len(head) - len(self._bot_prompt)
        kept: list[list[int]] = []
        cut = False
        lines = [self.line(t.name, t.text) for t in reversed(turns)]
        for ids in self._encode_many(lines):
            cost = len(ids) + len(self._newline)
            if cost <= room:
                kept.append(ids)
                room -= cost
                continue
            if not kept and room > len(self._newline):
                kept.append(ids[len(ids) - (room - len(self._newline)) :])
                cut = True
            break
        ids_out: list[int] = list(head)
        for turn_ids in reversed(kept):
            ids_out += turn_ids + self._newline
        ids_out += self._bot_prompt
        recent = [clean_name(t.name) for t in reversed(turns[len(turns) - len(kept) :])]
        speakers = dict.fromkeys([*recent, self.bot_name])
        stops = tuple(f"\n{name}:" for name in speakers)[:MAX_STOP_STRINGS]
        return Prompt(tuple(ids_out), len(kept), len(turns) - len(kept), cut, budget, stops)

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._tokenizer.decode(list(ids)))

    def _persona_ids(self, persona: str, budget: int) -> list[int]:
        text = clean_text(persona)
        if not text:
            return []
        ids = self._encode(text)[: budget // 2]  # a persona may never crowd out the conversation
        return ids + self._newline

    def _encode(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False))

    def _encode_many(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        batch = self._tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [list(ids) for ids in batch]
