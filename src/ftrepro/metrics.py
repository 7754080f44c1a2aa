"""Scoring functions that reproduce the original evaluation code of each paper.

Each function follows docs/protocols.md (section numbers below) so that our numbers agree with
the papers' scorers to the last digit on the same predictions:

- text classification / MASSIVE (2.2, 5.1): intent accuracy via sklearn; slot F1 via seqeval
  defaults (micro average, ``mode=None``) on BIO tags made by MASSIVE's ``convert_to_bio``.
- SuperNI / Tk-Instruct (1.4, 5.2): ROUGE-L F-measure with rouge-score's stemming tokenizer and
  SQuAD-style exact match without article removal, each the max over references.
- preference classification / Kaggle LMSYS (4): multiclass log loss as sklearn 1.2-1.4 computed it.

Given a ``Bootstrap``, each scorer adds a 95% interval to every metric it reports: a seeded
percentile bootstrap over test rows (scipy.stats.bootstrap), all metrics of a run on the same
resamples. The point values stay the original scorers'; the intervals resample per-row scores
(accuracy, exact match, ROUGE-L, log loss) or, for seqeval's corpus-level micro F1, per-sentence
entity counts from which each resample's F1 is recomputed as seqeval computes it.
"""

from __future__ import annotations

import functools
import math
import string
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import scipy.stats
from rouge_score import rouge_scorer
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import accuracy_score

from ftrepro.data import OUTSIDE, WORD_SUBTASKS, arena
from ftrepro.io import DataError

# --------------------------------------------------------------------------- uncertainty

LEVEL = 0.95  # every interval of ours is a 95% interval
NORMAL_QUANTILE = NormalDist().inv_cdf(0.5 + LEVEL / 2)  # 1.96: a normal interval at LEVEL
Interval = tuple[list[float], float]  # ([lo, hi], bootstrap standard error)


@dataclass(frozen=True)
class Bootstrap:
    """A seeded percentile bootstrap over test rows (config stats.resamples and stats.seed)."""

    resamples: int = 1000
    seed: int = 0

    def interval(self, statistic: Callable, *columns: Sequence) -> Interval:
        """The LEVEL interval and standard error of ``statistic(*columns, axis=-1)`` over the rows
        resampled together (the same resamples for every call, so a run's metrics are paired).
        A single row has no spread: its interval is its value."""
        data = tuple(np.asarray(column) for column in columns)
        if len(data[0]) < 2:
            value = float(statistic(*data, axis=-1))
            return [value, value], 0.0
        result = scipy.stats.bootstrap(
            data,
            statistic,
            n_resamples=self.resamples,
            vectorized=True,
            paired=True,
            method="percentile",
            confidence_level=LEVEL,
            rng=np.random.default_rng(self.seed),
        )
        bounds = result.confidence_interval
        return [float(bounds.low), float(bounds.high)], float(result.standard_error)

    @property
    def settings(self) -> dict:
        """How the intervals were drawn, as metrics.json states it."""
        return {"resamples": self.resamples, "seed": self.seed, "level": LEVEL}

    def record(self, intervals: Mapping[str, Interval]) -> dict:
        """The metrics.json keys of `intervals` {metric: Interval}: ``ci`` {metric: [lo, hi]},
        ``se`` {metric: standard error} and ``bootstrap`` (the settings)."""
        return {
            "ci": {key: ci for key, (ci, _) in intervals.items()},
            "se": {key: se for key, (_, se) in intervals.items()},
            "bootstrap": self.settings,
        }


def percent_mean(values, axis=-1):
    """The mean of per-row scores in percent (the bootstrap statistic of accuracy-like metrics)."""
    return 100.0 * np.mean(values, axis=axis)


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
    """MASSIVE ``convert_to_bio`` for word-level tags (docs/protocols.md 2.2).

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

    This is MASSIVE's text-to-text rule (``eval_preds``), which the text-classification paper
    adopts for generated slot lists ("appends padding labels, and truncates extra labels").
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


def entity_counts(gold_bio: Sequence[Sequence[str]], pred_bio: Sequence[Sequence[str]]) -> np.ndarray:
    """Per sentence, seqeval's entities (``get_entities``): true positives (entities predicted
    with their type and span), predicted and gold entities; an n x 3 integer array."""
    counts = []
    for gold, pred in zip(gold_bio, pred_bio, strict=True):
        gold_entities, pred_entities = set(get_entities(list(gold))), set(get_entities(list(pred)))
        counts.append((len(gold_entities & pred_entities), len(pred_entities), len(gold_entities)))
    return np.array(counts, dtype=np.int64).reshape(-1, 3)


def micro_prf(true_positives, predicted, gold, axis=-1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Micro precision, recall and F1 (fractions) from per-sentence entity counts summed along
    `axis`, in seqeval's arithmetic (0 where a denominator is 0), so that the whole sample gives
    seqeval's numbers to the last digit and a resample's F1 needs no re-tagging."""
    tp, pred, true = (np.sum(c, axis=axis) for c in (true_positives, predicted, gold))
    precision = np.divide(tp, pred, out=np.zeros(np.shape(tp)), where=pred != 0)
    recall = np.divide(tp, true, out=np.zeros(np.shape(tp)), where=true != 0)
    denom = precision + recall
    f1 = np.divide(2.0 * precision * recall, denom, out=np.zeros(np.shape(tp)), where=denom != 0)
    return precision, recall, f1


def _slot_rows(gold_bio, pred_bio, subtask: str) -> dict[str, tuple[Callable, np.ndarray]]:
    """<subtask>_precision, _recall and _f1 as bootstrap statistics (percent) over the
    per-sentence `entity_counts`: the columns are counted once, each resample only sums them."""
    columns = entity_counts(gold_bio, pred_bio).T
    return {
        f"{subtask}_{name}": (functools.partial(_percent_prf, which=i), columns)
        for i, name in enumerate(("precision", "recall", "f1"))
    }


def _percent_prf(true_positives, predicted, gold, axis=-1, *, which: int):
    return 100.0 * micro_prf(true_positives, predicted, gold, axis)[which]


# --------------------------------------------------------------------------- label runs (classification, slots)


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
    records: Iterable[Mapping],
    subtasks: Sequence[str],
    source: str = "predictions",
    bootstrap: Bootstrap | None = None,
) -> dict:
    """The metrics.json dict of one classification run from its prediction records (percent values).

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

    With a ``bootstrap``, every metric above but the rates gets its interval (``Bootstrap.record``).
    """
    if not subtasks:
        raise ValueError("score_predictions: no subtasks given")
    records = list(records)
    gold, pred = _columns(records, subtasks, source)
    metrics: dict = {}
    rows: dict[str, tuple[Callable, Sequence]] = {}  # metric -> (statistic, per-row columns)
    for s in subtasks:
        if s in WORD_SUBTASKS:
            scores = slot_scores(gold[s], [p or [] for p in pred[s]])
            for name, value in scores.items():
                metrics[f"{s}_{name}"] = 100.0 * value
            rows.update(_slot_rows(*_bio_pairs(gold[s], [p or [] for p in pred[s]], OUTSIDE), s))
        else:
            labels = ["" if p is None else p for p in pred[s]]
            metrics[f"{s}_accuracy"] = 100.0 * accuracy(gold[s], labels)
            rows[f"{s}_accuracy"] = (percent_mean, [[g == p for g, p in zip(gold[s], labels)]])
    if "intent" in subtasks and "slots" in subtasks:
        gold_bio, pred_bio = _bio_pairs(gold["slots"], [p or [] for p in pred["slots"]], OUTSIDE)
        hits = [
            gi == pi and gb == pb
            for gi, pi, gb, pb in zip(gold["intent"], pred["intent"], gold_bio, pred_bio)
        ]
        metrics["exact_match"] = 100.0 * sum(hits) / len(hits)
        rows["exact_match"] = (percent_mean, [hits])
    metrics.update(_generation_rates(records, source))
    for key, (s, preds) in _constrained_predictions(records, subtasks, source).items():
        metrics[key] = 100.0 * accuracy(gold[s], preds)
        rows[key] = (percent_mean, [[g == p for g, p in zip(gold[s], preds)]])
    metrics["n_examples"] = len(gold[subtasks[0]])
    if bootstrap is not None:
        metrics.update(
            bootstrap.record({key: bootstrap.interval(f, *cols) for key, (f, cols) in rows.items()})
        )
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


def _constrained_predictions(
    records: Sequence[Mapping], subtasks: Sequence[str], source: str
) -> dict[str, tuple[str, list]]:
    """{constrained_<subtask>_accuracy: (subtask, labels)} for the sequence-level subtasks of
    ``pred_constrained`` (none when the records have no such field)."""
    chosen = _field_in_all(records, "pred_constrained", source)
    if chosen is None:
        return {}
    predictions = {}
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
        predictions[f"constrained_{s}_accuracy"] = (s, preds)
    return predictions


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

    Fraction in [0, 1]; the corpus score is the mean x 100 (docs/protocols.md 1.4).
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


# --------------------------------------------------------------------------- SuperNI runs


SUPERNI_METRICS = ("rougeL", "exact_match")


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


def _group_scores(rows: Sequence[Mapping], bootstrap: Bootstrap | None = None) -> dict:
    """compute_metrics.py on one group: mean x 100, rounded to 4 decimals; plus the group size
    and, with a `bootstrap`, intervals from resampling the group's rows."""
    n = len(rows)
    scores = {
        "rougeL": round(100.0 * sum(r["rougeL"] for r in rows) / n, 4),
        "exact_match": round(100.0 * sum(r["exact_match"] for r in rows) / n, 4),
        "n": n,
    }
    if bootstrap is None:
        return scores
    intervals = {key: bootstrap.interval(percent_mean, [r[key] for r in rows]) for key in SUPERNI_METRICS}
    record = bootstrap.record(intervals)
    return {**scores, "ci": record["ci"], "se": record["se"]}


def _grouped(rows: Sequence[Mapping], key: str) -> dict[str, list[Mapping]]:
    groups: dict[str, list[Mapping]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return groups


def score_superni_predictions(
    records: Iterable[Mapping], source: str = "predictions", bootstrap: Bootstrap | None = None
) -> dict:
    """The metrics.json dict of one SuperNI run (docs/protocols.md 1.4), percent values.

    Records are ``{"task", "category", "id", "prediction", "references"}``. Overall ``rougeL``,
    ``exact_match`` and ``n_examples``; ``per_task`` {task: {rougeL, exact_match, n, category}}
    and ``per_category`` {category key: {rougeL, exact_match, n}}, the category key normalised as
    compute_metrics.py does. Every group is scored like the whole (compute_grouped_metrics); with
    a ``bootstrap`` each group and the whole get intervals from resampling their own rows.
    """
    rows = _superni_rows(records, source)
    overall = _group_scores(rows, bootstrap)
    per_task = {
        task: {**_group_scores(group, bootstrap), "category": group[0]["category"]}
        for task, group in _grouped(rows, "task").items()
    }
    per_category = {key: _group_scores(group, bootstrap) for key, group in _grouped(rows, "category").items()}
    metrics = {
        "rougeL": overall["rougeL"],
        "exact_match": overall["exact_match"],
        "n_examples": overall["n"],
        "per_task": per_task,
        "per_category": per_category,
    }
    if bootstrap is not None:
        metrics.update(ci=overall["ci"], se=overall["se"], bootstrap=bootstrap.settings)
    return metrics


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
    return float(row_log_losses(y, probs).mean())


def row_log_losses(y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """-ln p(true class) per row after the Kaggle scorer's clipping and renormalisation (their
    mean is ``kaggle_log_loss``); checked arrays of class indices and an n x k float64 array."""
    eps = np.finfo(np.float64).eps
    probs = np.clip(probs, eps, 1 - eps)
    probs = probs / probs.sum(axis=1, keepdims=True)
    return -np.log(probs[np.arange(len(y)), y])


def _preference_row(rec: Any, where: str) -> tuple[int, list[float]]:
    """(gold class index, [p(A), p(B), p(tie)]) of one preference prediction record, checked."""
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


def score_preference_predictions(
    records: Iterable[Mapping], source: str = "predictions", bootstrap: Bootstrap | None = None
) -> dict:
    """The metrics.json dict of one preference run: Kaggle log loss, accuracy (argmax) and the count;
    with a ``bootstrap``, the intervals of both.

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
    predicted = np.argmax(probs, axis=1).tolist()
    metrics = {
        "log_loss": kaggle_log_loss(y, probs),
        "accuracy": accuracy(y, predicted),
        "n_examples": len(y),
    }
    if bootstrap is not None:
        losses = row_log_losses(np.asarray(y), np.asarray(probs, dtype=np.float64))
        intervals = {
            "log_loss": bootstrap.interval(np.mean, losses),
            "accuracy": bootstrap.interval(np.mean, [t == p for t, p in zip(y, predicted)]),
        }
        metrics.update(bootstrap.record(intervals))
    return metrics


# --------------------------------------------------------------------------- pooled groups and seeds


def pooled_interval(groups: Sequence[Mapping], metric: str, value: float) -> Interval | None:
    """The interval of `metric` over disjoint groups of rows pooled into their example-weighted
    mean `value` (each group {metric, "n", "ci", "se"}, as scored); None if a group has none.

    One group keeps its percentile interval. Several are a stratified bootstrap's case (rows
    resampled within each group): its variance is the sum of the groups' weighted by (n_g / N)^2,
    and the interval is the normal one, value +- z x se, which a sum of several independent
    groups' means approaches."""
    if any(metric not in group.get("se", {}) for group in groups):
        return None
    if len(groups) == 1:
        return list(groups[0]["ci"][metric]), groups[0]["se"][metric]
    n = sum(group["n"] for group in groups)
    se = math.sqrt(sum((group["n"] / n * group["se"][metric]) ** 2 for group in groups))
    return [value - NORMAL_QUANTILE * se, value + NORMAL_QUANTILE * se], se


SIZES = ("n", "n_examples")  # rows scored: the seeds of one cell score the same rows


def aggregate_seeds(runs: Sequence[Mapping]) -> dict:
    """One cell's metrics.json over the runs of its seeds (the same test rows): each metric is
    the mean over seeds and keeps the shape of a single run's dict, nested groups included.

    ``seeds`` {"n", "sd": {metric: standard deviation over seeds}, "ci": {metric: Student-t
    interval of the mean over seeds}} states the seed spread. The metric's ``ci`` holds both
    sources of error, the test rows (the seeds' mean bootstrap half-width) and the seeds (the
    t half-width), added in quadrature around the mean; ``se`` likewise. One run is returned as
    it is."""
    if not runs:
        raise ValueError("aggregate_seeds: no runs")
    if len(runs) == 1:
        return dict(runs[0])
    return _aggregate(runs, "seeds")


def _aggregate(dicts: Sequence[Mapping], where: str) -> dict:
    keys = list(dicts[0])
    if any(list(d) != keys for d in dicts):
        raise ValueError(f"aggregate_seeds: {where}: the seeds' runs have different keys")
    out: dict = {}
    for key in keys:
        values = [d[key] for d in dicts]
        if key in ("ci", "se", "seeds"):
            continue
        if isinstance(values[0], Mapping):
            out[key] = _aggregate(values, f"{where}.{key}")
        elif key in SIZES or isinstance(values[0], bool | str) or values[0] is None:
            if any(v != values[0] for v in values):
                raise ValueError(f"aggregate_seeds: {where}.{key} differs between seeds: {values}")
            out[key] = values[0]
        else:  # a metric, or a count of its own per run (replaced characters)
            out[key] = values[0] if all(v == values[0] for v in values) else float(np.mean(values))
    if "ci" in dicts[0]:
        out.update(_seed_intervals(dicts, out))
    return out


def _seed_intervals(dicts: Sequence[Mapping], means: Mapping) -> dict:
    """ci, se and seeds of the metrics with intervals, for `_aggregate`."""
    n = len(dicts)
    t = scipy.stats.t.ppf(0.5 + LEVEL / 2, n - 1)
    ci, se, sd, seed_ci = {}, {}, {}, {}
    for metric in dicts[0]["ci"]:
        mean = means[metric]
        sd[metric] = float(np.std([d[metric] for d in dicts], ddof=1))
        rows = float(np.mean([(d["ci"][metric][1] - d["ci"][metric][0]) / 2 for d in dicts]))
        seeds = t * sd[metric] / math.sqrt(n)
        half = math.hypot(rows, seeds)
        ci[metric], seed_ci[metric] = [mean - half, mean + half], [mean - seeds, mean + seeds]
        se[metric] = math.sqrt(np.mean([d["se"][metric] ** 2 for d in dicts]) + sd[metric] ** 2 / n)
    return {"ci": ci, "se": se, "seeds": {"n": n, "sd": sd, "ci": seed_ci}}
