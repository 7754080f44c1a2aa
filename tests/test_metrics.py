"""Metrics against the original scorers' known values and hand computations (protocols.md)."""

import math

import numpy as np
import pytest
from sklearn.metrics import log_loss as sklearn_log_loss

from ftrepro.evaluate import score_run
from ftrepro.io import DataError, write_jsonl
from ftrepro.metrics import (
    accuracy,
    align_to_words,
    kaggle_log_loss,
    normalize_answer,
    rouge_l,
    score_predictions,
    slot_scores,
    superni_exact_match,
    to_bio,
)

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
    # the two spans apart, so BIO makes one entity (protocols 2.1)
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
    # seqeval mode=None: I-date after O starts an entity, so this equals gold exactly (protocols 5.1)
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
    assert score_run("zhao2025", path) == {"intent_accuracy": 50.0, "n_examples": 2}
    write_jsonl(path, [rec(1, {"intent": "a"}, {})])
    with pytest.raises(DataError, match="predictions.jsonl: record 1"):
        score_run("zhao2025", path)


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
