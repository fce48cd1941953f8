"""Real OpenAI-compatible servers on loopback for the remote backend's tests and bench.

`TransformersServer` runs `transformers serve DIR --host 127.0.0.1 --port P` (Hugging Face's
FastAPI server) as a subprocess, with a bounded start-up wait. `make_scripted_gpt2` builds a
GPT-2 whose weights make its output depend on the position only, so a reply is known in
advance on any server and on the local engine alike: before position `SPEAKER_UNTIL` it
writes "… hello there\\nBob: hello there\\nBob: …" (a speaker line within five tokens), from
there on "la di da do re mi fa so …" with no speaker line (a long reply).
`SilentServer` accepts connections and never answers: a server that hangs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import torch
from transformers import GPT2LMHeadModel, PreTrainedTokenizerBase

from tests.conftest import make_tiny_gpt2

__all__ = [
    "LONG_WORDS",
    "SPEAKER_UNTIL",
    "SPEAKER_WORDS",
    "SilentServer",
    "TransformersServer",
    "free_port",
    "make_scripted_gpt2",
    "save_scripted_gpt2",
]

SPEAKER_WORDS = (" hello", " there", "\n", "Bob", ":")
LONG_WORDS = (" la", " di", " da", " do", " re", " mi", " fa", " so")
SPEAKER_UNTIL = 256  # positions before this continue SPEAKER_WORDS, the rest LONG_WORDS
START_S = 120.0  # the most a server may take to answer /health


def make_scripted_gpt2(tokenizer: PreTrainedTokenizerBase) -> GPT2LMHeadModel:
    """Blocks zeroed (the residual stream passes through), position embeddings that point at
    one token each, and a sharp final layer norm: greedy and sampled decoding agree."""
    model = make_tiny_gpt2(seed=1)
    words = [*SPEAKER_WORDS, *LONG_WORDS]
    ids = [tokenizer.encode(w) for w in words]
    assert all(len(i) == 1 for i in ids), ids
    token = {w: i[0] for w, i in zip(words, ids, strict=True)}
    direction = {w: n for n, w in enumerate(words)}
    with torch.no_grad():
        for block in model.transformer.h:
            for param in block.parameters():
                param.zero_()
        wte, wpe = model.transformer.wte.weight, model.transformer.wpe.weight
        wte.normal_(std=0.01)
        wpe.zero_()
        for word in words:
            wte[token[word]] = 0.0
            wte[token[word], direction[word]] = 1.0
        for position in range(wpe.shape[0]):
            cycle = SPEAKER_WORDS if position < SPEAKER_UNTIL else LONG_WORDS
            wpe[position, direction[cycle[position % len(cycle)]]] = 50.0
        model.transformer.ln_f.weight.fill_(10.0)
        model.transformer.ln_f.bias.zero_()
    return model


def save_scripted_gpt2(path: Path, tokenizer: PreTrainedTokenizerBase) -> Path:
    make_scripted_gpt2(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TransformersServer:
    """`transformers serve` pinned to one model directory, on 127.0.0.1."""

    def __init__(
        self, model_dir: Path, log_path: Path, port: int | None = None, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.model_dir = model_dir
        self.extra_args = extra_args
        self.port = port or free_port()
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def describe(self) -> str:
        return " ".join(["transformers serve", *self.extra_args])

    def start(self) -> TransformersServer:
        command = [str(Path(sys.executable).parent / "transformers"), "serve", str(self.model_dir)]
        command += ["--host", "127.0.0.1", "--port", str(self.port), *self.extra_args]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {self._process.returncode}: see {self.log_path}")
            try:
                with urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"transformers serve did not answer /health within {START_S:g} s: see {self.log_path}")

    def stop(self) -> None:
        """Kill it at once (SIGKILL: a crash, not a drain)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=30)
        self._process = None


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers a byte, until stopped."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self._sock.close()
