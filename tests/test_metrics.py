"""Metrics against the original scorers' known values and hand computations (docs/protocols.md)."""

import math

import numpy as np
import pytest
from sklearn.metrics import log_loss as sklearn_log_loss

from ftrepro.evaluate import score_run
from ftrepro.io import DataError, write_jsonl
from ftrepro.metrics import (
    Bootstrap,
    accuracy,
    aggregate_seeds,
    align_to_words,
    entity_counts,
    kaggle_log_loss,
    micro_prf,
    normalize_answer,
    percent_mean,
    pooled_interval,
    rouge_l,
    score_predictions,
    score_preference_predictions,
    score_superni_predictions,
    slot_scores,
    superni_exact_match,
    to_bio,
)
from ftrepro.papers.zhao2025 import PAPER as ZHAO

# ----------------------------------------------------------------------------- accuracy


def test_accuracy_fraction():
    assert accuracy(["a", "b", "c", "d"], ["a", "b", "x", "d"]) == 0.75


def test_accuracy_rejects_length_mismatch():
    with pytest.raises(ValueError, match="2 gold labels but 1"):
        accuracy(["a", "b"], ["a"])


# ----------------------------------------------------------------------------- BIO


def test_to_bio_massive_docstring_example():
    # MASSIVE convert_to_bio docstring example, without its -100 merge label (word-level labels)
    assert to_bio(["city", "city", "Other", "country", "Other"]) == [
        "B-city",
        "I-city",
        "O",
        "B-country",
        "O",
    ]


def test_to_bio_new_entity_after_outside_and_on_type_change():
    assert to_bio(["X", "Other", "X", "Y", "Y"]) == ["B-X", "O", "B-X", "B-Y", "I-Y"]


def test_to_bio_adjacent_same_type_spans_become_one_entity():
    # annot_utt "[date : today] [date : tomorrow]" -> date, date: the word labels cannot tell
    # the two spans apart, so BIO makes one entity (docs/protocols.md 2.1)
    assert to_bio(["date", "date"]) == ["B-date", "I-date"]


def test_to_bio_custom_outside():
    assert to_bio(["O", "a", "a"], outside="O") == ["O", "B-a", "I-a"]


# ----------------------------------------------------------------------------- alignment


def test_align_pads_with_outside():
    assert align_to_words(["X"], 3) == ["X", "Other", "Other"]


def test_align_cuts_extra():
    assert align_to_words(["X", "Y", "Z"], 2) == ["X", "Y"]


def test_align_keeps_exact_length_and_copies():
    tags = ["X", "Y"]
    out = align_to_words(tags, 2)
    assert out == tags and out is not tags


# ----------------------------------------------------------------------------- slot F1


# (gold, pred, slot F1) from alexa/massive test/test_eval_metrics.py (eval_preds takes pred first;
# these are written gold first)
MASSIVE_SLOT_CASES = [
    ([["X", "Y"]], [["X", "Y"]], 1.0),
    # combination: gold {X[0-1], Y[2]}, pred {X[0-1], Z[2]} -> TP 1, P 1/2, R 1/2, F1 0.5
    ([["X", "X", "Y"]], [["X", "X", "Z"]], 0.5),
    # padding: pred is one word short, padded with Other -> TP 2 (X, Y), FN 1 (last Y): P 1, R 2/3 -> 0.8
    ([["X", "X", "Y", "Other", "Y"]], [["X", "X", "Y", "Other"]], 0.8),
    # truncation: extra pred word cut; gold {X, Y} pred {X, Z} -> 0.5
    ([["X", "X", "Y"]], [["X", "X", "Z", "Z"]], 0.5),
    # recurring slots: gold {X[0-1], X[3-4], Z[5], Y[6]}, pred {X, X, Y[5], Z[6]} -> 2/4 each -> 0.5
    ([["X", "X", "Other", "X", "X", "Z", "Y"]], [["X", "X", "Other", "X", "X", "Y", "Z"]], 0.5),
    # prediction too long: pred X[0-2] does not match gold X[0-1]; Y matches -> 0.5
    ([["X", "X", "Other", "Y", "Y"]], [["X", "X", "X", "Y", "Y"]], 0.5),
    # prediction too short: pred X[0] vs gold X[0-1] -> 0.5
    ([["X", "X", "Other", "Y", "Y"]], [["X", "Other", "Other", "Y", "Y"]], 0.5),
    # number mismatch: gold {Y, X}, pred {X} -> P 1, R 1/2 -> 2/3 (repo rounds to 0.67)
    ([["Y"], ["X"]], [["Other"], ["X"]], 2 / 3),
]


@pytest.mark.parametrize("gold, pred, f1", MASSIVE_SLOT_CASES)
def test_slot_f1_matches_massive_repo(gold, pred, f1):
    assert slot_scores(gold, pred)["f1"] == pytest.approx(f1, abs=1e-12)


def test_slot_precision_recall_from_padding_case():
    scores = slot_scores([["X", "X", "Y", "Other", "Y"]], [["X", "X", "Y", "Other"]])
    assert scores["precision"] == pytest.approx(1.0)
    assert scores["recall"] == pytest.approx(2 / 3)


def test_seqeval_default_mode_is_lenient():
    # seqeval mode=None: I-date after O starts an entity, so this equals gold exactly (docs/protocols.md 5.1)
    from seqeval.metrics import f1_score

    assert f1_score([["O", "B-date", "I-date"]], [["O", "I-date", "I-date"]]) == 1.0


def test_adjacent_same_type_spans_merge_into_one_entity():
    # gold has two date spans written back to back -> one entity [0-3]; predicting only the
    # first half finds no entity at all, predicting all four words is a full match
    gold = [["date", "date", "date", "date"]]
    assert slot_scores(gold, [["date", "date", "Other", "Other"]])["f1"] == 0.0
    assert slot_scores(gold, [["date", "date", "date", "date"]])["f1"] == 1.0


def test_entities_do_not_cross_sentences():
    # X at the end of sentence 1 and X at the start of sentence 2 are two entities
    gold = [["Other", "X"], ["X", "Other"]]
    pred = [["Other", "X"], ["Other", "Other"]]
    scores = slot_scores(gold, pred)
    assert (scores["precision"], scores["recall"]) == (1.0, 0.5)


def test_no_entities_anywhere_scores_zero():
    assert slot_scores([["Other", "Other"]], [["Other", "Other"]]) == {
        "f1": 0.0,
        "precision": 0.0,
        "recall": 0.0,
    }


def test_slot_scores_rejects_count_mismatch():
    with pytest.raises(ValueError, match="2 gold sequences but 1"):
        slot_scores([["X"], ["Y"]], [["X"]])


# ----------------------------------------------------------------------------- score_predictions


def rec(i, gold, pred):
    return {"id": str(i), "gold": gold, "pred": pred}


def test_score_predictions_joint_massive_repo_case():
    # alexa/massive exact-match case: intents 3/4 right; slot sequences equal in records 2 and 3,
    # intent right in 1, 2, 4 -> exact match only record 2 -> 25%
    intents_pred, intents_gold = ["A", "B", "C", "E"], ["A", "B", "D", "E"]
    slots_pred = [["X", "Y"], ["X", "X", "Y"], ["X"], ["X", "Y"]]
    slots_gold = [["X", "X"], ["X", "X", "Y"], ["X"], ["X", "Z"]]
    records = [
        rec(i, {"intent": ig, "slots": sg}, {"intent": ip, "slots": sp})
        for i, (ig, ip, sg, sp) in enumerate(zip(intents_gold, intents_pred, slots_gold, slots_pred))
    ]
    m = score_predictions(records, ["intent", "slots"])
    assert m["intent_accuracy"] == 75.0
    assert m["exact_match"] == 25.0
    assert m["n_examples"] == 4
    # gold entities X[0-1], X[0-1]+Y[2], X[0], X[0]+Z[1] = 6; pred X[0]+Y[1], X[0-1]+Y[2], X[0], X[0]+Y[1] = 7;
    # TP = X[0-1], Y[2] (rec 2), X[0] (rec 3), X[0] (rec 4) = 4 -> P 4/7, R 4/6, F1 = 8/13
    assert m["slots_precision"] == pytest.approx(100 * 4 / 7)
    assert m["slots_recall"] == pytest.approx(100 * 4 / 6)
    assert m["slots_f1"] == pytest.approx(100 * 8 / 13)
    assert set(m) == {
        "intent_accuracy",
        "slots_f1",
        "slots_precision",
        "slots_recall",
        "exact_match",
        "n_examples",
    }


def test_exact_match_uses_aligned_prediction():
    # an extra predicted word is cut before comparing (MASSIVE aligns before exact match)
    records = [
        rec(1, {"intent": "a", "slots": ["X", "Other"]}, {"intent": "a", "slots": ["X", "Other", "Y"]})
    ]
    assert score_predictions(records, ["intent", "slots"])["exact_match"] == 100.0


def test_score_predictions_20ng_joint():
    records = [
        rec(1, {"20class": "sci.med", "7class": "sci"}, {"20class": "sci.med", "7class": "sci"}),
        rec(2, {"20class": "sci.space", "7class": "sci"}, {"20class": "sci.med", "7class": "sci"}),
        rec(3, {"20class": "alt.atheism", "7class": "alt"}, {"20class": "alt.atheism", "7class": "talk"}),
        rec(4, {"20class": "rec.autos", "7class": "rec"}, {"20class": None, "7class": None}),
    ]
    m = score_predictions(records, ["20class", "7class"])
    assert m == {"20class_accuracy": 50.0, "7class_accuracy": 50.0, "n_examples": 4}


def test_null_slot_prediction_is_all_outside():
    records = [
        rec(1, {"slots": ["X", "Other"]}, {"slots": None}),
        rec(2, {"slots": ["Y"]}, {"slots": ["Y"]}),
    ]
    m = score_predictions(records, ["slots"])
    # gold {X, Y}, pred {Y}: P 1, R 1/2, F1 2/3; no intent -> no exact match
    assert m["slots_f1"] == pytest.approx(100 * 2 / 3)
    assert "exact_match" not in m


@pytest.mark.parametrize(
    "records, message",
    [
        ([rec(1, {"intent": "a"}, {})], "pred has no 'intent'"),
        ([rec(1, {}, {"intent": "a"})], "gold has no 'intent'"),
        ([rec(1, {"intent": ["a"]}, {"intent": "a"})], "gold\\['intent'\\] must be a label string"),
        ([rec(1, {"intent": "a"}, {"intent": 3})], "pred\\['intent'\\] must be a label string"),
        (
            [rec(1, {"intent": "a"}, {"intent": "a"}), rec(1, {"intent": "a"}, {"intent": "a"})],
            "record 2 .*duplicate id",
        ),
        ([{"id": "1", "gold": {"intent": "a"}}], "expected an object"),
        ([], "no predictions"),
    ],
)
def test_score_predictions_bad_records(records, message):
    with pytest.raises(DataError, match=message):
        score_predictions(records, ["intent"])


def test_score_predictions_slots_must_be_lists():
    with pytest.raises(DataError, match="list of word labels"):
        score_predictions([rec(1, {"slots": "X"}, {"slots": ["X"]})], ["slots"])


def test_score_run_names_the_file(tmp_path):
    path = tmp_path / "predictions.jsonl"
    write_jsonl(path, [rec(1, {"intent": "a"}, {"intent": "a"}), rec(2, {"intent": "b"}, {"intent": "a"})])
    assert score_run(ZHAO.scoring(), path) == {"intent_accuracy": 50.0, "n_examples": 2}
    write_jsonl(path, [rec(1, {"intent": "a"}, {})])
    with pytest.raises(DataError, match="predictions.jsonl: record 1"):
        score_run(ZHAO.scoring(), path)


# ----------------------------------------------------------------------------- ROUGE-L


def test_rouge_l_stemming_and_case():
    # pred tokens: the, cat (cats, >3 chars, stemmed), are, run (running); ref: cat (3 chars, kept), run (runs)
    # LCS = [cat, run] = 2: P 2/4, R 2/2, F = 2*0.5*1/1.5 = 2/3
    assert rouge_l("The cats are running", ["cat runs"]) == pytest.approx(2 / 3)


def test_rouge_l_drops_non_alphanumerics():
    # "Hello, world!" -> hello world; "hello-world" -> hello world: identical -> 1.0
    assert rouge_l("Hello, world!", "hello-world") == 1.0
    # "Café" -> caf (non-ASCII letter becomes a space, "caf" has 3 chars so is not stemmed),
    # "cafe" stays "cafe": no overlap
    assert rouge_l("Café", "cafe") == 0.0


def test_rouge_l_is_lcs_not_bag_of_words():
    # pred a b c d, ref d c b a: LCS length 1 -> P = R = 1/4 -> F 0.25
    assert rouge_l("a b c d", "d c b a") == pytest.approx(0.25)


def test_rouge_l_precision_is_over_prediction():
    # pred "a b" vs ref "a b c e f": LCS 2, P 2/2, R 2/5, F = 2*1*0.4/1.4 = 4/7
    assert rouge_l("a b", "a b c e f") == pytest.approx(4 / 7)
    # swapping roles gives P 2/5, R 1: F-measure is symmetric
    assert rouge_l("a b c e f", "a b") == pytest.approx(4 / 7)


def test_rouge_l_max_over_references():
    # vs "x y": 0; vs "a b c e f": 4/7; vs "a b": 1.0
    assert rouge_l("a b", ["x y", "a b c e f"]) == pytest.approx(4 / 7)
    assert rouge_l("a b", ["x y", "a b c e f", "a b"]) == 1.0


def test_rouge_l_empty_prediction_is_zero():
    assert rouge_l("", ["anything"]) == 0.0
    assert rouge_l("!!!", ["anything"]) == 0.0


def test_rouge_l_needs_a_reference():
    with pytest.raises(ValueError, match="no reference"):
        rouge_l("a", [])


# ----------------------------------------------------------------------------- exact match


def test_normalize_keeps_articles():
    assert normalize_answer("  The  Answer, is: A cat! ") == "the answer is a cat"


def test_exact_match_normalisation():
    assert superni_exact_match("Yes.", ["yes"]) == 1.0
    assert superni_exact_match("yes", ["the yes"]) == 0.0  # no article removal
    assert superni_exact_match("New\tYork", ["new york"]) == 1.0
    assert superni_exact_match("can't", ["cant"]) == 1.0  # apostrophe is punctuation


def test_exact_match_max_over_references():
    assert superni_exact_match("b", ["a", "B"]) == 1.0
    assert superni_exact_match("c", ["a", "b"]) == 0.0


# ----------------------------------------------------------------------------- Kaggle log loss


def test_log_loss_uniform_is_ln3():
    assert kaggle_log_loss([0, 1, 2], np.full((3, 3), 1 / 3)) == pytest.approx(math.log(3), rel=1e-15)


def test_log_loss_hand_computation():
    probs = [[0.7, 0.2, 0.1], [0.1, 0.5, 0.4]]
    expected = -(math.log(0.7) + math.log(0.4)) / 2
    assert kaggle_log_loss([0, 2], probs) == pytest.approx(expected, rel=1e-14)


def test_log_loss_agrees_with_sklearn_on_valid_rows():
    # rows already summing to 1 and away from 0/1: every sklearn version computes the same thing
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([1, 1, 1], size=50)
    y = rng.integers(0, 3, size=50)
    assert kaggle_log_loss(y, probs) == pytest.approx(sklearn_log_loss(y, probs, labels=[0, 1, 2]), rel=1e-12)


def test_log_loss_zero_probability_is_clipped():
    eps = np.finfo(np.float64).eps
    # row [0, 1, 0] clips to [eps, 1-eps, eps] (sum 1 + eps), then renormalises
    p_true = eps / (1 + eps)
    assert kaggle_log_loss([0], [[0.0, 1.0, 0.0]]) == pytest.approx(-math.log(p_true), rel=1e-12)
    assert math.isfinite(kaggle_log_loss([0], [[0.0, 1.0, 0.0]]))


def test_log_loss_renormalises_rows():
    # [2, 1, 1] -> clip 2 to 1-eps -> [1-eps, 1, 1] / (3-eps); true class 1 -> p = 1/(3-eps)
    eps = np.finfo(np.float64).eps
    assert kaggle_log_loss([1], [[2.0, 1.0, 1.0]]) == pytest.approx(math.log(3 - eps), rel=1e-15)
    # [0.2, 0.2, 0.2] sums to 0.6 -> uniform after renormalising
    assert kaggle_log_loss([2], [[0.2, 0.2, 0.2]]) == pytest.approx(math.log(3), rel=1e-15)


def test_log_loss_float32_input_uses_float64_eps():
    # sklearn would take eps from the input dtype; the protocol fixes float64 eps
    eps64 = np.finfo(np.float64).eps
    value = kaggle_log_loss([0], np.array([[0.0, 0.5, 0.5]], dtype=np.float32))
    assert value == pytest.approx(-math.log(eps64 / (1 + eps64)), rel=1e-12)


@pytest.mark.parametrize(
    "y, probs, message",
    [
        ([0, 1], [[0.5, 0.5, 0.0]], "n labels"),
        ([3], [[0.5, 0.5, 0.0]], "class indices"),
        ([0], [[float("nan"), 0.5, 0.5]], "NaN"),
        ([], np.zeros((0, 3)), "n labels"),
    ],
)
def test_log_loss_bad_input(y, probs, message):
    with pytest.raises(ValueError, match=message):
        kaggle_log_loss(y, probs)


# ----------------------------------------------------------------------------- generated predictions


def generated(i, gold, pred, parsed, too_long=False, **extra):
    return {
        **rec(i, gold, pred),
        "output": None if too_long else "x",
        "parsed": parsed,
        "too_long": too_long,
        **extra,
    }


def test_parse_failures_and_too_long_prompts_are_separate_rates():
    records = [
        generated(1, {"intent": "a"}, {"intent": "a"}, True),
        generated(2, {"intent": "a"}, {"intent": None}, False),
        generated(3, {"intent": "a"}, {"intent": None}, False, too_long=True),
        generated(4, {"intent": "b"}, {"intent": "a"}, True),
    ]
    m = score_predictions(records, ["intent"])
    assert m == {
        "intent_accuracy": 25.0,
        "parse_failure_rate": 25.0,
        "too_long_rate": 25.0,
        "n_too_long": 1,
        "n_examples": 4,
    }


def test_constrained_accuracy_is_its_own_key_beside_generation():
    records = [
        generated(
            1,
            {"20class": "x.a", "7class": "x"},
            {"20class": None, "7class": None},
            False,
            pred_constrained={"20class": "x.a", "7class": "x"},
        ),
        generated(
            2,
            {"20class": "y.b", "7class": "y"},
            {"20class": "y.b", "7class": "y"},
            True,
            pred_constrained={"20class": "x.a", "7class": "y"},
        ),
    ]
    m = score_predictions(records, ["20class", "7class"])
    assert (m["20class_accuracy"], m["7class_accuracy"]) == (50.0, 50.0)
    assert (m["constrained_20class_accuracy"], m["constrained_7class_accuracy"]) == (50.0, 100.0)


def test_constrained_decoding_covers_sequence_subtasks_only():
    gold = {"intent": "a", "slots": ["X", "Other"]}
    records = [generated(1, gold, gold, True, pred_constrained={"intent": "b"})]
    m = score_predictions(records, ["intent", "slots"])
    assert m["constrained_intent_accuracy"] == 0.0
    assert "constrained_slots_f1" not in m and "constrained_slots_accuracy" not in m


@pytest.mark.parametrize(
    "records, message",
    [
        (
            [
                generated(1, {"intent": "a"}, {"intent": "a"}, True),
                {**rec(2, {"intent": "a"}, {"intent": "a"}), "too_long": False},
            ],
            "id='2' has no 'parsed'",
        ),
        ([generated(1, {"intent": "a"}, {"intent": "a"}, "yes")], "'parsed' must be true or false"),
        (
            [generated(1, {"intent": "a"}, {"intent": "a"}, True, pred_constrained={"7class": "a"})],
            "pred_constrained must be an object with a 'intent' label",
        ),
        (
            [generated(1, {"intent": "a"}, {"intent": "a"}, True, pred_constrained={"intent": None})],
            "pred_constrained\\['intent'\\] must be a label string",
        ),
    ],
)
def test_generation_fields_are_checked(records, message):
    with pytest.raises(DataError, match=message):
        score_predictions(records, ["intent"])


# ----------------------------------------------------------------------------- intervals


def test_the_bootstrap_interval_of_an_accuracy_is_the_normal_one_on_a_large_sample():
    n, p = 10_000, 0.88
    hits = [True] * int(n * p) + [False] * (n - int(n * p))
    (lo, hi), se = Bootstrap(resamples=1000, seed=3).interval(percent_mean, hits)
    normal_se = 100 * math.sqrt(p * (1 - p) / n)  # 0.32 points
    # 1,000 resamples estimate a bound to about 0.03 points and the standard error to about 2%
    assert se == pytest.approx(normal_se, rel=0.07)
    assert lo == pytest.approx(100 * p - 1.96 * normal_se, abs=0.08)
    assert hi == pytest.approx(100 * p + 1.96 * normal_se, abs=0.08)


def test_the_bootstrap_is_seeded_and_one_row_has_no_spread():
    hits = [True, False, True, True, False, True, True, True]
    assert Bootstrap(seed=1).interval(percent_mean, hits) == Bootstrap(seed=1).interval(percent_mean, hits)
    assert Bootstrap(seed=1).interval(percent_mean, hits) != Bootstrap(seed=2).interval(percent_mean, hits)
    assert Bootstrap().interval(percent_mean, [True]) == ([100.0, 100.0], 0.0)


def _random_slots(rng: np.random.Generator, n: int) -> tuple[list[list[str]], list[list[str]]]:
    """Gold and predicted word slots with the scorer's edge cases: empty sentences, predictions
    too short or too long, adjacent spans of one type, sentences without entities."""
    tags = ["Other", "Other", "date", "time", "place_name"]
    gold, pred = [], []
    for _ in range(n):
        g = [tags[i] for i in rng.integers(0, len(tags), rng.integers(0, 9))]
        p = [t if rng.random() < 0.8 else tags[rng.integers(0, len(tags))] for t in g]
        gold.append(g)
        pred.append(p[: len(p) + int(rng.integers(-2, 3))] if rng.random() < 0.2 else p)
    return gold, pred


def test_micro_f1_from_entity_counts_is_seqeval_to_the_last_digit():
    from ftrepro.metrics import _bio_pairs

    rng = np.random.default_rng(5)
    for n in (1, 7, 300):
        gold, pred = _random_slots(rng, n)
        counts = entity_counts(*_bio_pairs(gold, pred, "Other"))
        precision, recall, f1 = micro_prf(*counts.T)
        expected = slot_scores(gold, pred)
        assert float(f1) == expected["f1"]  # exact: no tolerance
        assert float(precision) == expected["precision"] and float(recall) == expected["recall"]
    none = entity_counts([["O", "O"]], [["O", "O"]])  # no entities at all: seqeval's 0.0
    assert [float(v) for v in micro_prf(*none.T)] == [0.0, 0.0, 0.0]
    assert set(slot_scores([["Other"]], [["Other"]]).values()) == {0.0}


def test_every_metric_of_a_zhao_run_gets_an_interval(tmp_path):
    rng = np.random.default_rng(0)
    gold, pred = _random_slots(rng, 200)
    records = [
        generated(
            i,
            {"intent": f"i{i % 5}", "slots": g},
            {"intent": f"i{i % 5}" if i % 4 else None, "slots": p},
            bool(i % 4),
            pred_constrained={"intent": f"i{i % 3}"},
        )
        for i, (g, p) in enumerate(zip(gold, pred))
    ]
    path = tmp_path / "predictions.jsonl"
    write_jsonl(path, records)
    m = score_run(ZHAO.scoring(), path, Bootstrap(resamples=1000, seed=0))
    scored = {k for k, v in m.items() if isinstance(v, float) and not k.endswith("_rate")}
    assert (
        set(m["ci"])
        == set(m["se"])
        == scored
        == {
            "intent_accuracy",
            "slots_f1",
            "slots_precision",
            "slots_recall",
            "exact_match",
            "constrained_intent_accuracy",
        }
    )
    for key in scored:
        lo, hi = m["ci"][key]
        assert lo < m[key] < hi and m["se"][key] > 0, key
    assert m["bootstrap"] == {"resamples": 1000, "seed": 0, "level": 0.95}
    assert "ci" not in score_run(ZHAO.scoring(), path)  # without a bootstrap, the metrics as before


def test_superni_groups_and_log_loss_get_intervals():
    records = [
        {
            "task": f"t{i % 3}",
            "category": "Cat 0" if i % 3 else "Cat 1",
            "id": str(i),
            "prediction": ("a b" if i % 2 else "a b c") if i % 3 else "c",
            "references": ["a b c"],
        }
        for i in range(60)
    ]  # fmt: skip; task t0 predicts "c" throughout
    m = score_superni_predictions(records, bootstrap=Bootstrap())
    for group in [m, *m["per_task"].values(), *m["per_category"].values()]:
        for key in ("rougeL", "exact_match"):
            lo, hi = group["ci"][key]
            assert lo <= group[key] <= hi and key in group["se"]
    assert m["per_task"]["t0"]["ci"]["rougeL"] == [m["per_task"]["t0"]["rougeL"]] * 2  # every row alike
    labels = ["A", "B", "tie"]
    preference = [
        {"id": str(i), "label": labels[i % 3], "probs": {"A": 0.5, "B": 0.3, "tie": 0.2}} for i in range(90)
    ]
    m = score_preference_predictions(preference, bootstrap=Bootstrap())
    lo, hi = m["ci"]["log_loss"]
    assert lo < m["log_loss"] < hi and m["ci"]["accuracy"][0] < m["accuracy"] < m["ci"]["accuracy"][1]


def test_pooled_groups_combine_as_a_stratified_bootstrap():
    rng = np.random.default_rng(2)
    groups = [rng.random(n) < p for n, p in ((300, 0.9), (200, 0.6), (500, 0.75))]
    boot = Bootstrap(resamples=2000, seed=0)
    scored = []
    for rows in groups:
        ci, se = boot.interval(percent_mean, rows)
        scored.append({"m": 100 * rows.mean(), "n": len(rows), "ci": {"m": ci}, "se": {"m": se}})
    pooled = 100 * np.concatenate(groups).mean()
    (lo, hi), se = pooled_interval(scored, "m", pooled)
    # the strata's variance: sum of (n_g / N)^2 p_g (1 - p_g) / n_g, in points
    n = sum(len(rows) for rows in groups)
    exact = 100 * math.sqrt(sum((len(r) / n) ** 2 * r.mean() * (1 - r.mean()) / len(r) for r in groups))
    assert se == pytest.approx(exact, rel=0.05)
    assert (lo, hi) == pytest.approx((pooled - 1.96 * se, pooled + 1.96 * se), abs=1e-2)
    assert pooled_interval(scored[:1], "m", scored[0]["m"]) == (scored[0]["ci"]["m"], scored[0]["se"]["m"])
    assert pooled_interval([{"m": 1.0, "n": 3}], "m", 1.0) is None  # scored without intervals


def test_seeds_aggregate_into_mean_spread_and_a_wider_interval():
    runs = [
        {"intent_accuracy": v, "n_examples": 100, "ci": {"intent_accuracy": [v - 2, v + 2]},
         "se": {"intent_accuracy": 1.0}, "bootstrap": {"resamples": 1000, "seed": 0, "level": 0.95}}
        for v in (80.0, 82.0, 84.0)
    ]  # fmt: skip
    m = aggregate_seeds(runs)
    assert m["intent_accuracy"] == 82.0 and m["n_examples"] == 100
    assert m["seeds"]["n"] == 3 and m["seeds"]["sd"]["intent_accuracy"] == pytest.approx(2.0)
    t_half = 4.302652729911275 * 2.0 / math.sqrt(3)  # Student t, 2 degrees of freedom
    assert m["seeds"]["ci"]["intent_accuracy"] == pytest.approx([82.0 - t_half, 82.0 + t_half])
    half = math.hypot(2.0, t_half)  # the test rows' half-width and the seeds', in quadrature
    assert m["ci"]["intent_accuracy"] == pytest.approx([82.0 - half, 82.0 + half])
    assert aggregate_seeds(runs[:1]) == runs[0]
    with pytest.raises(ValueError, match="n_examples differs"):
        aggregate_seeds([runs[0], {**runs[1], "n_examples": 99}])
