"""Optional statistical classifiers, on top of the rules.

Nothing here is required. Measured on the HateCheck dev split, the packaged offline
detectors do not help (bench/safety_eval.py prints the numbers when they are installed):
alt-profanity-check is at chance on hate, and hatesonar's ONNX model fails to load on a
machine without the en_US.UTF-8 locale. They can still be switched on by name.

The heavier option is a local Hugging Face sequence-classification checkpoint (for
example a toxic-BERT directory written by `save_pretrained`). It is loaded with
`local_files_only=True`, so it never reaches the network; a missing or broken
checkpoint is logged once and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from bot.safety.categories import Category

__all__ = ["LABEL_MAP", "Classifier", "LocalModelClassifier", "ProfanityCheckClassifier", "load_classifiers"]

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


class Classifier(Protocol):
    name: str

    def score(self, text: str) -> Mapping[Category, float]: ...


class ProfanityCheckClassifier:
    """alt-profanity-check's linear SVM → `profanity` (weight < 1: it is a weak signal)."""

    name = "profanity_check"

    def __init__(self, weight: float = 0.8) -> None:
        from profanity_check import predict_prob

        self._predict = predict_prob
        self._weight = weight

    def score(self, text: str) -> Mapping[Category, float]:
        return {Category.PROFANITY: float(self._predict([text])[0]) * self._weight}


class LocalModelClassifier:
    """A sequence-classification model from a local directory; sigmoid per label."""

    name = "local_model"

    def __init__(self, path: str | Path, max_length: int = 256) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"classifier checkpoint directory not found: {path}")
        self._torch = torch
        self._tok: Any = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self._model: Any = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True)
        self._model.eval()
        self._labels = {int(i): str(n).lower() for i, n in self._model.config.id2label.items()}
        self._max_length = max_length

    def score(self, text: str) -> Mapping[Category, float]:
        with self._torch.inference_mode():
            enc = self._tok(text, return_tensors="pt", truncation=True, max_length=self._max_length)
            probs = self._torch.sigmoid(self._model(**enc).logits[0]).tolist()
        out: dict[Category, float] = {}
        for i, p in enumerate(probs):
            category = LABEL_MAP.get(self._labels.get(i, ""))
            if category is not None:
                out[category] = max(out.get(category, 0.0), float(p))
        return out


def load_classifiers(names: Sequence[str] = (), checkpoint: str = "") -> list[Classifier]:
    """Build what is configured; anything that cannot load is logged and left out."""
    out: list[Classifier] = []
    for name in names:
        try:
            if name == "profanity_check":
                out.append(ProfanityCheckClassifier())
            else:
                log.warning("unknown safety classifier %r ignored", name)
        except Exception as exc:
            log.warning("safety classifier %s unavailable (%s); continuing without it", name, exc)
    if checkpoint:
        try:
            out.append(LocalModelClassifier(checkpoint))
        except Exception as exc:
            log.warning("safety checkpoint %s unavailable (%s); continuing without it", checkpoint, exc)
    return out
