"""Scoring functions that reproduce the original evaluation code of each paper.

Each function follows ../shared/protocols.md (section numbers below) so that our numbers
agree with the papers' scorers to the last digit on the same predictions:

- zhao2025 / MASSIVE (2.2, 5.1): intent accuracy via sklearn; slot F1 via seqeval defaults
  (micro average, ``mode=None``) on BIO tags made by MASSIVE's ``convert_to_bio``.
- gupta2023 / SuperNI (1.4, 5.2): ROUGE-L F-measure with rouge-score's stemming tokenizer and
  SQuAD-style exact match without article removal, each the max over references.
- band2025 / Kaggle LMSYS (4): multiclass log loss as sklearn 1.2-1.4 computed it.
"""

from __future__ import annotations

import functools
import string
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from rouge_score import rouge_scorer
from seqeval.metrics import f1_score, precision_score, recall_score
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import accuracy_score

from ftrepro.data import OUTSIDE, WORD_SUBTASKS, arena
from ftrepro.io import DataError

# --------------------------------------------------------------------------- accuracy


def accuracy(gold: Sequence, pred: Sequence) -> float:
    """Fraction of examples whose predicted label equals the gold label (sklearn)."""
    if len(gold) != len(pred):
        raise ValueError(f"accuracy: {len(gold)} gold labels but {len(pred)} predictions")
    if not gold:
        raise ValueError("accuracy: no examples")
    return float(accuracy_score(list(gold), list(pred)))


# --------------------------------------------------------------------------- MASSIVE slots


def to_bio(tags: Sequence[str], outside: str = OUTSIDE) -> list[str]:
    """MASSIVE ``convert_to_bio`` for word-level tags (protocols 2.2).

    ``outside`` -> ``O``; a tag different from the previous one -> ``B-tag``; the same tag as the
    previous one -> ``I-tag``. So adjacent spans of one slot type merge into one entity, exactly
    as in the original scorer. Our labels are per word (the shared derived format), so the
    original's merge label ``-100`` (continuation sub-words) never occurs and is not handled.
    """
    bio = []
    prev = None
    for tag in tags:
        if tag == outside:
            bio.append("O")
        elif tag != prev:
            bio.append(f"B-{tag}")
        else:
            bio.append(f"I-{tag}")
        prev = tag
    return bio


def align_to_words(pred_tags: Sequence[str], n_words: int, outside: str = OUTSIDE) -> list[str]:
    """Cut predicted tags beyond ``n_words`` and pad missing ones with ``outside``.

    This is MASSIVE's text-to-text rule (``eval_preds``), which zhao2025 section 5.8 adopts
    ("appends padding labels, and truncates extra labels").
    """
    pred_tags = list(pred_tags)
    return pred_tags[:n_words] + [outside] * (n_words - len(pred_tags))


def _bio_pairs(gold_seqs, pred_seqs, outside):
    if len(gold_seqs) != len(pred_seqs):
        raise ValueError(f"slot scoring: {len(gold_seqs)} gold sequences but {len(pred_seqs)} predictions")
    gold_bio = [to_bio(g, outside) for g in gold_seqs]
    pred_bio = [to_bio(align_to_words(p, len(g), outside), outside) for g, p in zip(gold_seqs, pred_seqs)]
    return gold_bio, pred_bio


def slot_scores(
    gold_seqs: Sequence[Sequence[str]], pred_seqs: Sequence[Sequence[str]], outside: str = OUTSIDE
) -> dict[str, float]:
    """Entity-level micro F1 / precision / recall (fractions) as MASSIVE's ``eval_preds``.

    Predictions are aligned to the gold length first, both sides go through ``to_bio``, then
    seqeval scores them with its defaults (micro, ``mode=None``). No entities -> 0.0.
    """
    gold_bio, pred_bio = _bio_pairs(gold_seqs, pred_seqs, outside)
    with warnings.catch_warnings():
        # seqeval warns (and returns 0.0, the value the original reports) on empty entity sets
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return {
            "f1": float(f1_score(gold_bio, pred_bio)),
            "precision": float(precision_score(gold_bio, pred_bio)),
            "recall": float(recall_score(gold_bio, pred_bio)),
        }


# --------------------------------------------------------------------------- zhao2025 runs


def _check_label(value: Any, subtask: str, where: str, side: str, allow_none: bool) -> Any:
    if value is None and allow_none:
        return value
    if subtask in WORD_SUBTASKS:
        ok = isinstance(value, list) and all(isinstance(t, str) for t in value)
        expected = "a list of word labels (strings)"
    else:
        ok = isinstance(value, str)
        expected = "a label string"
    if not ok:
        raise DataError(f"{where}: {side}[{subtask!r}] must be {expected}, got {value!r:.80}")
    return value


def _columns(records: Iterable[Mapping], subtasks: Sequence[str], source: str):
    """Gold and predicted labels per subtask, validated; a missing prediction is None."""
    gold = {s: [] for s in subtasks}
    pred = {s: [] for s in subtasks}
    seen = set()
    for i, rec in enumerate(records, start=1):
        where = (
            f"{source}: record {i} (id={rec.get('id')!r})"
            if isinstance(rec, Mapping)
            else f"{source}: record {i}"
        )
        if (
            not isinstance(rec, Mapping)
            or not isinstance(rec.get("gold"), Mapping)
            or not isinstance(rec.get("pred"), Mapping)
        ):
            raise DataError(f"{where}: expected an object with 'id', 'gold' and 'pred' objects")
        if rec.get("id") in seen:
            raise DataError(f"{where}: duplicate id")
        seen.add(rec.get("id"))
        for s in subtasks:
            if s not in rec["gold"]:
                raise DataError(f"{where}: gold has no {s!r} label")
            if s not in rec["pred"]:
                raise DataError(f"{where}: pred has no {s!r} key (write null for no answer)")
            gold[s].append(_check_label(rec["gold"][s], s, where, "gold", allow_none=False))
            pred[s].append(_check_label(rec["pred"][s], s, where, "pred", allow_none=True))
    if not seen:
        raise DataError(f"{source}: no predictions to score")
    return gold, pred


def score_predictions(
    records: Iterable[Mapping], subtasks: Sequence[str], source: str = "predictions"
) -> dict[str, float | int]:
    """The metrics.json dict of one zhao2025 run from its prediction records (percent values).

    Records are ``{"id", "gold": {subtask: ...}, "pred": {subtask: ...}}``. Keys:
    ``<subtask>_accuracy`` per sequence-level subtask; ``slots_f1/_precision/_recall`` for slots;
    ``exact_match`` (intent right AND whole BIO sequence right, MASSIVE ``ex_match_acc``) when the
    run has both intent and slots; ``n_examples``. A null prediction (no parsable answer) counts
    as wrong: ``""`` for a label, no slots (all ``Other``) for a slot sequence. ``source`` names
    the file in error messages.

    Generated predictions (decoder and API runs) add, when their records carry the fields:
    ``too_long_rate`` (percent of records whose prompt did not fit, ``"too_long": true``) and
    ``n_too_long`` (their count; each is scored wrong),
    ``parse_failure_rate`` (percent of records with an output that did not parse,
    ``"parsed": false``, too-long prompts not counted again), ``replaced_characters`` (lone
    surrogates replaced in the outputs, a count) and ``constrained_<subtask>_accuracy``
    from ``"pred_constrained"`` (constrained decoding, a column of its own; null where the prompt
    left no room for the candidates, counted wrong).
    """
    if not subtasks:
        raise ValueError("score_predictions: no subtasks given")
    records = list(records)
    gold, pred = _columns(records, subtasks, source)
    metrics: dict[str, float | int] = {}
    for s in subtasks:
        if s in WORD_SUBTASKS:
            scores = slot_scores(gold[s], [p or [] for p in pred[s]])
            for name, value in scores.items():
                metrics[f"{s}_{name}"] = 100.0 * value
        else:
            metrics[f"{s}_accuracy"] = 100.0 * accuracy(gold[s], ["" if p is None else p for p in pred[s]])
    if "intent" in subtasks and "slots" in subtasks:
        gold_bio, pred_bio = _bio_pairs(gold["slots"], [p or [] for p in pred["slots"]], OUTSIDE)
        hits = [
            gi == pi and gb == pb
            for gi, pi, gb, pb in zip(gold["intent"], pred["intent"], gold_bio, pred_bio)
        ]
        metrics["exact_match"] = 100.0 * sum(hits) / len(hits)
    metrics.update(_generation_rates(records, source))
    metrics.update(_constrained_accuracies(records, subtasks, gold, source))
    metrics["n_examples"] = len(gold[subtasks[0]])
    return metrics


def _field_in_all(records: Sequence[Mapping], field: str, source: str) -> list | None:
    """The values of an optional record field: None when no record has it; every record or none must."""
    having = [rec for rec in records if field in rec]
    if not having:
        return None
    if len(having) != len(records):
        missing = next(rec for rec in records if field not in rec)
        raise DataError(f"{source}: record id={missing.get('id')!r} has no {field!r} but others have")
    return [rec[field] for rec in records]


def _generation_rates(records: Sequence[Mapping], source: str) -> dict[str, float]:
    """too_long_rate and parse_failure_rate (percent of all records) from the generation fields, and
    the counts n_too_long and replaced_characters."""
    flags = {field: _field_in_all(records, field, source) for field in ("too_long", "parsed")}
    for field, values in flags.items():
        if values is not None and not all(isinstance(v, bool) for v in values):
            raise DataError(f"{source}: {field!r} must be true or false in every record")
    too_long = flags["too_long"] or [False] * len(records)
    rates = {}
    if flags["too_long"] is not None:
        rates["too_long_rate"] = 100.0 * sum(too_long) / len(records)
        rates["n_too_long"] = sum(too_long)
    if flags["parsed"] is not None:
        failures = [not ok and not long for ok, long in zip(flags["parsed"], too_long)]
        rates["parse_failure_rate"] = 100.0 * sum(failures) / len(records)
    replaced = _field_in_all(records, "replaced_characters", source)
    if replaced is not None:
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in replaced):
            raise DataError(f"{source}: 'replaced_characters' must be a count in every record")
        rates["replaced_characters"] = sum(replaced)
    return rates


def _constrained_accuracies(
    records: Sequence[Mapping], subtasks: Sequence[str], gold: Mapping, source: str
) -> dict[str, float]:
    """constrained_<subtask>_accuracy for the sequence-level subtasks of ``pred_constrained``."""
    chosen = _field_in_all(records, "pred_constrained", source)
    if chosen is None:
        return {}
    accuracies = {}
    for s in subtasks:
        if s in WORD_SUBTASKS:
            continue
        preds = []
        for rec, labels in zip(records, chosen):
            where = f"{source}: record id={rec.get('id')!r}"
            if labels is None:  # no room for the candidates after the prompt: wrong
                preds.append("")
                continue
            if not isinstance(labels, Mapping) or s not in labels:
                raise DataError(f"{where}: pred_constrained must be an object with a {s!r} label")
            preds.append(_check_label(labels[s], s, where, "pred_constrained", allow_none=False))
        accuracies[f"constrained_{s}_accuracy"] = 100.0 * accuracy(gold[s], preds)
    return accuracies


# --------------------------------------------------------------------------- SuperNI


@functools.lru_cache(maxsize=1)
def _rouge_l_scorer() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def _references(references: str | Sequence[str]) -> list[str]:
    refs = [references] if isinstance(references, str) else list(references)
    if not refs:
        raise ValueError("no reference outputs to score against")
    return refs


def rouge_l(prediction: str, references: str | Sequence[str]) -> float:
    """Tk-Instruct ROUGE-L: rouge-score F-measure with the stemming tokenizer, max over references.

    Fraction in [0, 1]; the corpus score is the mean x 100 (protocols 1.4).
    """
    scorer = _rouge_l_scorer()
    return max(
        scorer.score(target=ref, prediction=prediction)["rougeL"].fmeasure for ref in _references(references)
    )


_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation as Tk-Instruct uses it: lowercase, drop punctuation, collapse spaces.

    Articles are kept (Tk-Instruct comments out SQuAD's article removal).
    """
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(text.split())


def superni_exact_match(prediction: str, references: str | Sequence[str]) -> float:
    """1.0 if the normalised prediction equals any normalised reference, else 0.0."""
    pred = normalize_answer(prediction)
    return float(max(pred == normalize_answer(ref) for ref in _references(references)))


# --------------------------------------------------------------------------- gupta2023 runs


def category_key(category: str) -> str:
    """compute_metrics.py's group name of a SuperNI category: "Question Rewriting" -> "question_rewriting"."""
    return "_".join(category.lower().split())


def _superni_row(rec: Any, where: str) -> dict:
    """One prediction record checked; a null prediction is scored as "" (the leaderboard's rule)."""
    if not isinstance(rec, Mapping):
        raise DataError(f"{where}: expected an object with task, category, id, prediction, references")
    for key in ("task", "category"):
        if not isinstance(rec.get(key), str) or not rec[key]:
            raise DataError(f"{where}: {key!r} must be a non-empty string, got {rec.get(key)!r:.80}")
    prediction = "" if rec.get("prediction") is None else rec["prediction"]
    if not isinstance(prediction, str):
        raise DataError(f"{where}: 'prediction' must be a string or null, got {prediction!r:.80}")
    refs = rec.get("references")
    if not (isinstance(refs, list) and refs and all(isinstance(r, str) for r in refs)):
        raise DataError(f"{where}: 'references' must be a non-empty list of strings, got {refs!r:.80}")
    return {
        "task": rec["task"],
        "category": category_key(rec["category"]),
        "id": rec.get("id"),
        "rougeL": rouge_l(prediction, refs),
        "exact_match": superni_exact_match(prediction, refs),
    }


def _superni_rows(records: Iterable[Any], source: str) -> list[dict]:
    rows, seen, categories = [], set(), {}
    for i, rec in enumerate(records, start=1):
        where = f"{source}: record {i}" + (f" (id={rec.get('id')!r})" if isinstance(rec, Mapping) else "")
        row = _superni_row(rec, where)
        if (row["task"], row["id"]) in seen:
            raise DataError(f"{where}: duplicate id in task {row['task']}")
        if categories.setdefault(row["task"], row["category"]) != row["category"]:
            raise DataError(
                f"{where}: task {row['task']} has categories {categories[row['task']]} and {row['category']}"
            )
        seen.add((row["task"], row["id"]))
        rows.append(row)
    if not rows:
        raise DataError(f"{source}: no predictions to score")
    return rows


def _group_scores(rows: Sequence[Mapping]) -> dict[str, float | int]:
    """compute_metrics.py on one group: mean x 100, rounded to 4 decimals; plus the group size."""
    n = len(rows)
    return {
        "rougeL": round(100.0 * sum(r["rougeL"] for r in rows) / n, 4),
        "exact_match": round(100.0 * sum(r["exact_match"] for r in rows) / n, 4),
        "n": n,
    }


def _grouped(rows: Sequence[Mapping], key: str) -> dict[str, list[Mapping]]:
    groups: dict[str, list[Mapping]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return groups


def score_superni_predictions(records: Iterable[Mapping], source: str = "predictions") -> dict:
    """The metrics.json dict of one gupta2023 run (protocols 1.4), percent values.

    Records are ``{"task", "category", "id", "prediction", "references"}``. Overall ``rougeL``,
    ``exact_match`` and ``n_examples``; ``per_task`` {task: {rougeL, exact_match, n, category}}
    and ``per_category`` {category key: {rougeL, exact_match, n}}, the category key normalised as
    compute_metrics.py does. Every group is scored like the whole (compute_grouped_metrics).
    """
    rows = _superni_rows(records, source)
    overall = _group_scores(rows)
    per_task = {
        task: {**_group_scores(group), "category": group[0]["category"]}
        for task, group in _grouped(rows, "task").items()
    }
    per_category = {key: _group_scores(group) for key, group in _grouped(rows, "category").items()}
    return {
        "rougeL": overall["rougeL"],
        "exact_match": overall["exact_match"],
        "n_examples": overall["n"],
        "per_task": per_task,
        "per_category": per_category,
    }


# --------------------------------------------------------------------------- Kaggle log loss


def kaggle_log_loss(y_true: Sequence[int], probs) -> float:
    """Multiclass log loss as the LMSYS Kaggle scorer (sklearn 1.2-1.4, ``eps="auto"``) had it.

    Clip to [eps, 1 - eps] with float64 machine eps, renormalise each row to sum to 1, then the
    mean of -ln p(true class). sklearn >= 1.5 dropped the renormalisation, hence numpy here.
    ``y_true`` holds class indices into the columns of ``probs`` (n x k).
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_true)
    if probs.ndim != 2 or len(probs) != len(y) or len(y) == 0:
        raise ValueError(
            f"log loss: need n labels and an n x k probability array, got {len(y)} labels and shape {probs.shape}"
        )
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= probs.shape[1]:
        raise ValueError(f"log loss: labels must be class indices in [0, {probs.shape[1]})")
    if not np.isfinite(probs).all():
        raise ValueError("log loss: probabilities contain NaN or infinity")
    eps = np.finfo(np.float64).eps
    probs = np.clip(probs, eps, 1 - eps)
    probs = probs / probs.sum(axis=1, keepdims=True)
    return float(-np.log(probs[np.arange(len(y)), y]).mean())


def _preference_row(rec: Any, where: str) -> tuple[int, list[float]]:
    """(gold class index, [p(A), p(B), p(tie)]) of one band2025 prediction record, checked."""
    if not isinstance(rec, Mapping):
        raise DataError(f"{where}: expected an object with id, label, probs")
    if not isinstance(rec.get("id"), str) or not rec["id"]:
        raise DataError(f"{where}: 'id' must be a non-empty string, got {rec.get('id')!r:.80}")
    if rec.get("label") not in arena.LABELS:
        raise DataError(f"{where}: 'label' must be one of {list(arena.LABELS)}, got {rec.get('label')!r:.80}")
    probs = rec.get("probs")
    if not isinstance(probs, Mapping) or set(probs) != set(arena.LABELS):
        raise DataError(
            f"{where}: 'probs' must map exactly {list(arena.LABELS)} to numbers, got {probs!r:.80}"
        )
    row = [probs[label] for label in arena.LABELS]
    if not all(
        isinstance(p, (int, float)) and not isinstance(p, bool) and 0 <= p < float("inf") for p in row
    ):
        raise DataError(f"{where}: probabilities must be finite numbers >= 0, got {row!r:.80}")
    return arena.LABELS.index(rec["label"]), row


def score_preference_predictions(records: Iterable[Mapping], source: str = "predictions") -> dict:
    """The metrics.json dict of one band2025 run: Kaggle log loss, accuracy (argmax) and the count.

    Records are ``{"id", "label": "A" | "B" | "tie", "probs": {"A": p, "B": p, "tie": p}}``.
    """
    y, probs, seen = [], [], set()
    for i, rec in enumerate(records, start=1):
        where = f"{source}: record {i}" + (f" (id={rec.get('id')!r})" if isinstance(rec, Mapping) else "")
        label, row = _preference_row(rec, where)
        if rec.get("id") in seen:
            raise DataError(f"{where}: duplicate id")
        seen.add(rec.get("id"))
        y.append(label)
        probs.append(row)
    if not y:
        raise DataError(f"{source}: no predictions to score")
    return {
        "log_loss": kaggle_log_loss(y, probs),
        "accuracy": accuracy(y, np.argmax(probs, axis=1).tolist()),
        "n_examples": len(y),
    }
