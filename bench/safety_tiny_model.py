"""A tiny random sequence-classification model, built offline with `save_pretrained`.

No model hub is reachable here, so the classifier layer's plumbing and its cost are
measured on this stand-in: a 2-layer BERT with random weights, the Jigsaw/Detoxify labels,
and a WordPiece tokenizer over a small vocabulary. Its scores mean nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["JIGSAW_LABELS", "build_tiny_classifier"]

JIGSAW_LABELS = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
_WORDS = (
    "the a an i you he she we they it is are was be to of and in on for with at by this that not no "
    "hate love kill people good bad hello there how what why who game play chat bot server"
).split()


def build_tiny_classifier(path: Path, labels: Sequence[str] = JIGSAW_LABELS, seed: int = 0) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    path.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_WORDS, *"abcdefghijklmnopqrstuvwxyz"]
    vocab += [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(vocab_file=str(path / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        problem_type="multi_label_classification",
    )
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
