"""zhao2025 baselines (not in the paper): the sanity floor under the fine-tuned models, trained on
the train split of a dataset and predicting its test split in the shared predictions format, so
that `ftrepro.metrics` scores them as it scores the models.

- ``tfidf-svm``: TF-IDF of word uni- and bigrams + a linear SVM per text subtask; word subtasks
  (MASSIVE slots) a linear SVM per word over the word, its neighbours (two each side), its
  prefix and suffix and its shape.
- ``frozen-encoder``: the encoder's token states, frozen, mean-pooled per text + logistic
  regression; word subtasks the state of each word's first sub-word + logistic regression.

A fine-tuned encoder below these is a bug in its recipe.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from ftrepro.data import WORD_SUBTASKS
from ftrepro.infer.logits import predict_logits
from ftrepro.io import DataError, read_jsonl
from ftrepro.models.encoder import EncoderCollator, first_subword_positions, load_encoder, tokenize_record
from ftrepro.models.encoding import load_tokenizer
from ftrepro.papers.zhao2025.runs import BASELINES

log = logging.getLogger(__name__)


def read_split(path: str | Path, subtasks: Sequence[str]) -> list[dict]:
    """The records of a derived split; every one must carry a gold label of every subtask."""
    records = read_jsonl(path)
    if not records:
        raise DataError(f"{path}: no records")
    for n, record in enumerate(records, start=1):
        missing = [s for s in subtasks if s not in record.get("labels", {})]
        if missing:
            raise DataError(
                f"{path}: record {n} (id {record.get('id')!r}): no gold label for {', '.join(missing)}"
            )
    return records


def predictions(test: Sequence[dict], subtasks: Sequence[str], pred: dict[str, list]) -> list[dict]:
    """Prediction records {"id", "gold", "pred"} of the test split."""
    return [
        {
            "id": record["id"],
            "gold": {s: record["labels"][s] for s in subtasks},
            "pred": {s: pred[s][i] for s in subtasks},
        }
        for i, record in enumerate(test)
    ]


def per_record(word_labels: Sequence[str], records: Sequence[dict]) -> list[list[str]]:
    """Labels of every word of `records` in order, cut back into one list per record."""
    bounds = np.cumsum([0] + [len(r["words"]) for r in records])
    return [[str(label) for label in word_labels[a:b]] for a, b in zip(bounds[:-1], bounds[1:])]


# --------------------------------------------------------------------------- TF-IDF + linear SVM


def word_features(words: Sequence[str], i: int) -> list[str]:
    """The context of word `i` as "name=value" features: the word, two neighbours each side,
    its prefix, suffix and shape."""
    word = words[i]
    features = [
        f"word={word.lower()}",
        f"prefix={word[:3].lower()}",
        f"suffix={word[-3:].lower()}",
        f"digit={word.isdigit()}",
        f"title={word.istitle()}",
    ]
    for offset in (-2, -1, 1, 2):
        j = i + offset
        features.append(f"word{offset:+d}={words[j].lower() if 0 <= j < len(words) else '<none>'}")
    return features


def _given(features: list[str]) -> list[str]:
    """CountVectorizer's analyzer for features made by word_features (and its int32 indices,
    which LinearSVC needs: DictVectorizer's are int64)."""
    return features


def tfidf_svm(train: Sequence[dict], test: Sequence[dict], subtasks: Sequence[str], seed: int) -> list[dict]:
    pred = {}
    for subtask in subtasks:
        log.info("tfidf-svm: %s on %d train records", subtask, len(train))
        if subtask in WORD_SUBTASKS:
            model = make_pipeline(CountVectorizer(analyzer=_given, binary=True), LinearSVC(random_state=seed))
            model.fit(*_word_rows(train, subtask))
            pred[subtask] = per_record(model.predict(_word_rows(test, None)[0]), test)
        else:
            model = make_pipeline(
                TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2), LinearSVC(random_state=seed)
            )
            model.fit([r["text"] for r in train], [r["labels"][subtask] for r in train])
            pred[subtask] = [str(label) for label in model.predict([r["text"] for r in test])]
    return predictions(test, subtasks, pred)


def _word_rows(records: Sequence[dict], subtask: str | None) -> tuple[list[list[str]], list[str]]:
    """Features of every word of `records`, and its gold label of `subtask` (None: no labels)."""
    features, labels = [], []
    for record in records:
        features += [word_features(record["words"], i) for i in range(len(record["words"]))]
        if subtask is not None:
            labels += record["labels"][subtask]
    return features, labels


# --------------------------------------------------------------------------- frozen encoder


class FrozenStates(torch.nn.Module):
    """A frozen encoder whose Trainer "logits" are its token states, or their mean over the
    text's tokens (sentence-transformers' pooling) with `mean`."""

    def __init__(self, backbone, mean: bool):
        super().__init__()
        self.backbone, self.mean = backbone.eval(), mean

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
        if not self.mean:
            return {"logits": hidden}
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return {"logits": (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)}


def encoder_states(
    base_dir: str | Path, records: Sequence[dict], word_level: bool, max_length: int, batch_size: int
) -> list[np.ndarray]:
    """Per record: the mean-pooled state of its text (a vector), or with `word_level` the state
    of each of its words' first sub-word (words cut off by `max_length`: zeros)."""
    tokenizer = load_tokenizer(base_dir, word_level)
    tokenizer.padding_side = "right"  # a token's state sits at its position in the encoding
    model = FrozenStates(load_encoder(base_dir), mean=not word_level)
    encodings = [tokenize_record(tokenizer, r, word_level, max_length) for r in records]
    with torch.no_grad():
        states = predict_logits(model, [dict(e) for e in encodings], EncoderCollator(tokenizer), batch_size)
    if not word_level:
        return list(states)
    words = []
    for record, encoding, state in zip(records, encodings, states):
        positions = first_subword_positions(encoding.word_ids())
        zero = np.zeros(state.shape[-1], dtype=state.dtype)
        words.append(
            np.stack([state[positions[w]] if w in positions else zero for w in range(len(record["words"]))])
        )
    return words


def frozen_encoder(
    train: Sequence[dict],
    test: Sequence[dict],
    subtasks: Sequence[str],
    base_dir: str | Path,
    max_length: int,
    batch_size: int = 64,
) -> list[dict]:
    pred = {}
    features = {}  # word_level -> (train, test) states, computed once for all subtasks that need them
    for subtask in subtasks:
        word_level = subtask in WORD_SUBTASKS
        if word_level not in features:
            log.info(
                "frozen-encoder: states of %d + %d records (word level: %s)",
                len(train),
                len(test),
                word_level,
            )
            features[word_level] = tuple(
                encoder_states(base_dir, split, word_level, max_length, batch_size) for split in (train, test)
            )
        train_x, test_x = features[word_level]
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        if word_level:
            model.fit(np.concatenate(train_x), [label for r in train for label in r["labels"][subtask]])
            pred[subtask] = per_record(model.predict(np.concatenate(test_x)), test)
        else:
            model.fit(np.stack(train_x), [r["labels"][subtask] for r in train])
            pred[subtask] = [str(label) for label in model.predict(np.stack(test_x))]
    return predictions(test, subtasks, pred)


def fit_baseline(
    method: str,
    train_path: str | Path,
    test_path: str | Path,
    subtasks: Sequence[str],
    *,
    base_dir: str | Path | None = None,
    max_length: int | None = None,
    seed: int = 42,
) -> list[dict]:
    """Train baseline `method` on the train split for `subtasks`; its predictions of the test
    split. The frozen encoder needs `base_dir` and `max_length` (the encoder recipe's)."""
    train, test = read_split(train_path, subtasks), read_split(test_path, subtasks)
    if method == "tfidf-svm":
        return tfidf_svm(train, test, subtasks, seed)
    if method == "frozen-encoder":
        if base_dir is None or max_length is None:
            raise ValueError("frozen-encoder baseline: base_dir and max_length are needed")
        return frozen_encoder(train, test, subtasks, base_dir, max_length)
    raise ValueError(f"unknown baseline {method!r}; expected one of {', '.join(BASELINES)}")
