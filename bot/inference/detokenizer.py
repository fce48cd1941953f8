"""Token ids to text, one token at a time, exactly as the tokenizer would decode them.

GPT-2's byte-level BPE maps every token to a fixed byte string; a character may span two
tokens, so text is produced by an incremental UTF-8 decoder over those bytes. Special tokens
decode to nothing (`skip_special_tokens=True`).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Sequence
from functools import lru_cache

from transformers import PreTrainedTokenizerBase

__all__ = ["TextStream", "TokenBytes"]


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's `bytes_to_unicode` table."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


class TokenBytes:
    """The byte string of every token id below `vocab_size`."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, vocab_size: int) -> None:
        decoder = _byte_decoder()
        special = set(tokenizer.all_special_ids)
        table: list[bytes] = []
        tokens = tokenizer.convert_ids_to_tokens(list(range(vocab_size)))
        for token_id, token in enumerate(tokens):
            if not token or token_id in special:  # None past the tokenizer's vocabulary
                table.append(b"")
            elif all(ch in decoder for ch in token):
                table.append(bytes(decoder[ch] for ch in token))
            else:  # an added (non byte-level) token: its text as is
                table.append(token.encode("utf-8"))
        self._table = table

    def __len__(self) -> int:
        return len(self._table)

    def __getitem__(self, token_id: int) -> bytes:
        return self._table[token_id]

    def decode(self, ids: Iterable[int]) -> str:
        return b"".join(self._table[i] for i in ids).decode("utf-8", errors="replace")


class TextStream:
    """Incremental text of a growing token sequence, with each token's end offset."""

    def __init__(self, table: TokenBytes) -> None:
        self._table = table
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.text = ""
        self.ends: list[int] = []  # len(text) after each token

    def push(self, token_id: int) -> str:
        """Append a token; returns the characters it completed (maybe none)."""
        piece = self._decoder.decode(self._table[token_id])
        self.text += piece
        self.ends.append(len(self.text))
        return piece

    def finish(self) -> str:
        """No more tokens: flush an incomplete trailing character (as U+FFFD)."""
        piece = self._decoder.decode(b"", final=True)
        self.text += piece
        return piece

    def tokens_before(self, ids: Sequence[int], cut: int) -> tuple[int, ...]:
        """The tokens whose text ends at or before character `cut`."""
        count = 0
        while count < len(self.ends) and self.ends[count] <= cut:
            count += 1
        return tuple(ids[:count])
