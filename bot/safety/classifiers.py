"""Learned classifiers beside the rules.

**A local Hugging Face model** (`safety.classifier`): a sequence-classification directory
the operator puts on disk once (for example a toxic-BERT or RoBERTa-toxicity model written
by `save_pretrained`), loaded with `local_files_only=True`, so nothing is ever downloaded.
Its labels map onto our categories by `safety.classifier_labels` (default `LABEL_MAP`, the
Jigsaw/Detoxify labels); a sigmoid per label gives the score. `ClassifierQueue` owns the
model on one worker thread: concurrent checks wait on futures while the thread scores
everything queued in one padded batch (on the GPU when there is one), so the event loop
never runs the model. How its scores combine with the rules: `bot.safety.checker`.

The quality of any such model is **not measured here** (no weights can be fetched on the
machines this project is built on); the tests and bench run a tiny random model for the
plumbing and its cost only. The rules alone are the offline default.

**Packaged classifiers** (`safety.classifiers`): alt-profanity-check's linear SVM, at
chance on hate speech (bench/safety_eval.py measured it), kept as an opt-in weak signal.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from bot.safety.categories import Category

__all__ = [
    "LABEL_MAP",
    "BatchModel",
    "Classifier",
    "ClassifierQueue",
    "LocalModel",
    "ProfanityCheckClassifier",
    "load_classifiers",
    "parse_labels",
    "start_classifier",
]

log = logging.getLogger(__name__)

# Jigsaw / Detoxify-style labels → our categories
LABEL_MAP: Mapping[str, Category] = {
    "toxic": Category.HARASSMENT,
    "toxicity": Category.HARASSMENT,
    "insult": Category.HARASSMENT,
    "severe_toxic": Category.HARASSMENT,
    "severe_toxicity": Category.HARASSMENT,
    "obscene": Category.PROFANITY,
    "threat": Category.THREAT,
    "identity_hate": Category.SLUR_HATE,
    "identity_attack": Category.SLUR_HATE,
    "sexual_explicit": Category.SEXUAL,
}
Scores = Mapping[Category, float]


def parse_labels(items: Sequence[str]) -> Mapping[str, Category]:
    """`label=category` items (validated by the config) → mapping; empty → `LABEL_MAP`."""
    if not items:
        return LABEL_MAP
    pairs = (item.partition("=") for item in items)
    return {label.strip().lower(): Category(category) for label, _, category in pairs}


class Classifier(Protocol):
    name: str

    def score(self, text: str) -> Scores: ...


class ProfanityCheckClassifier:
    """alt-profanity-check's linear SVM → `profanity` (weight < 1: it is a weak signal)."""

    name = "profanity_check"

    def __init__(self, weight: float = 0.8) -> None:
        from profanity_check import predict_prob

        self._predict = predict_prob
        self._weight = weight

    def score(self, text: str) -> Scores:
        return {Category.PROFANITY: float(self._predict([text])[0]) * self._weight}


def load_classifiers(names: Sequence[str] = ()) -> list[Classifier]:
    """The packaged classifiers named in `safety.classifiers`; any that cannot load is logged and left out."""
    out: list[Classifier] = []
    for name in names:
        try:
            if name == "profanity_check":
                out.append(ProfanityCheckClassifier())
            else:
                log.warning("unknown safety classifier %r ignored", name)
        except Exception as exc:
            log.warning("safety classifier %s unavailable (%s); continuing without it", name, exc)
    return out


class LocalModel:
    """A sequence-classification model from a local directory, scored a batch at a time."""

    def __init__(
        self, path: str | Path, labels: Mapping[str, Category] = LABEL_MAP, device: str = "auto", max_length: int = 256
    ) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"classifier directory not found: {path}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.name = path.name
        self.device = device
        self._torch = torch
        self._tok: Any = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self._model: Any = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True)
        self._model.to(device).eval()
        names = {int(i): str(n).lower() for i, n in self._model.config.id2label.items()}
        self._columns = [(i, labels[n]) for i, n in sorted(names.items()) if n in labels]
        if not self._columns:
            raise ValueError(f"none of the model's labels ({', '.join(names.values())}) is in safety.classifier_labels")
        self._max_length = max_length

    def score_batch(self, texts: Sequence[str]) -> list[Scores]:
        if self.device == "cpu":
            # one thread, set for the calling thread only (OpenMP's thread count is per thread):
            # the model must not compete with GPT-2's decode for the cores, and on a busy CPU
            # a two-thread forward pass of a small model stalls (p95 180 ms vs 5 ms measured)
            self._torch.set_num_threads(1)
        with self._torch.inference_mode():
            enc = self._tok(
                list(texts), return_tensors="pt", truncation=True, max_length=self._max_length, padding=True
            ).to(self.device)
            probs = self._torch.sigmoid(self._model(**enc).logits).float().cpu().tolist()
        out: list[Scores] = []
        for row in probs:
            scores: dict[Category, float] = {}
            for i, category in self._columns:
                scores[category] = max(scores.get(category, 0.0), float(row[i]))
            out.append(scores)
        return out


_Job = tuple[str, "asyncio.Future[Scores]", asyncio.AbstractEventLoop]


class BatchModel(Protocol):
    name: str
    device: str

    def score_batch(self, texts: Sequence[str]) -> list[Scores]: ...


class ClassifierQueue:
    """One worker thread owns the model; `score()` waits for it without blocking the loop,
    and everything queued while a batch runs is scored together in the next one."""

    def __init__(self, model: BatchModel, max_batch: int = 32) -> None:
        self.model = model
        self.name = model.name
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.batches = 0  # how many forward passes ran (the tests and the bench read it)
        self._thread = threading.Thread(target=self._run, name="safety-classifier", daemon=True)
        self._thread.start()

    async def score(self, text: str) -> Scores:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Scores] = loop.create_future()
        self._jobs.put((text, future, loop))
        return await future

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            batch = [job]
            while len(batch) < self._max_batch:
                try:
                    nxt = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._jobs.put(None)  # finish this batch, then stop
                    break
                batch.append(nxt)
            try:
                results = self.model.score_batch([text for text, _, _ in batch])
            except Exception as exc:  # handed to each waiting check, which falls back to the rules
                for _, future, loop in batch:
                    loop.call_soon_threadsafe(_fail, future, exc)
                continue
            self.batches += 1
            for (_, future, loop), scores in zip(batch, results, strict=True):
                loop.call_soon_threadsafe(_resolve, future, scores)


def _resolve(future: asyncio.Future[Scores], scores: Scores) -> None:
    if not future.done():
        future.set_result(scores)


def _fail(future: asyncio.Future[Scores], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def start_classifier(
    path: str, labels: Sequence[str] = (), device: str = "auto", max_batch: int = 32
) -> ClassifierQueue | None:
    """The `safety.classifier` model on its worker thread, or None (logged) when it cannot load."""
    if not path:
        return None
    try:
        model = LocalModel(path, parse_labels(labels), device)
    except Exception as exc:
        log.warning("safety classifier %s unavailable (%s); the rules run alone", path, exc)
        return None
    log.info("safety classifier %s loaded on %s", path, model.device)
    return ClassifierQueue(model, max_batch)
