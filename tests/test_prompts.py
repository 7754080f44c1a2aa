"""zhao2025 prompts: golden strings of Listings 1-12, five-shot demos, chat rendering, output parsing."""

from __future__ import annotations

import json

import pytest

from ftrepro.io import DataError
from ftrepro.models.tiny import tiny_tokenizer
from ftrepro.papers.zhao2025.prompts import (
    answer_candidates,
    few_shot_demos,
    parse_output,
    prompt_examples,
)
from ftrepro.prompts import render_prompt

# The listings' text, transcribed from the paper's appendix (wrapped PDF lines joined); the
# label lists are spelled out once here. <EXAMPLES> stands for the five-shot block.
NG20 = (
    "['alt.atheism', 'comp.graphics', 'comp.os.ms-windows.misc', 'comp.sys.ibm.pc.hardware', "
    "'comp.sys.mac.hardware', 'comp.windows.x', 'misc.forsale', 'rec.autos', 'rec.motorcycles', "
    "'rec.sport.baseball', 'rec.sport.hockey', 'sci.crypt', 'sci.electronics', 'sci.med', 'sci.space', "
    "'soc.religion.christian', 'talk.politics.guns', 'talk.politics.mideast', 'talk.politics.misc', "
    "'talk.religion.misc']"
)
NG7 = '["alt", "comp", "misc", "rec", "sci", "soc", "talk"]'
NG7_UNQUOTED_TALK = '["alt", "comp", "misc", "rec", "sci", "soc", talk]'  # Listings 5 and 6 as printed

LISTING_1 = """[INST]You will be given a news text.
Your task is to classify it as one of the labels in the list NG20

Output the label only and absolutely nothing else.
Now it is your turn.

Beginning of <<News>>
A {brace} in the news
End of <<News>>

Label: [/INST]
sci.space""".replace("NG20", NG20)

LISTING_2 = """You will be given a news text.
Your task is to classify it as one of the labels in the list NG7

Output the label only and absolutely nothing else.
Now it is your turn.

Beginning of <<News>>
A {brace} in the news
End of <<News>>

Label:""".replace("NG7", NG7)

FIVE_SHOT_BLOCK = """

Bellow are some examples with the correct classification:

Beginning of <<Examples>>
<EXAMPLES>
End of <<Examples>>
"""

LISTING_3 = (
    LISTING_1.removeprefix("[INST]")
    .removesuffix(" [/INST]\nsci.space")
    .replace("\n\nOutput the label", FIVE_SHOT_BLOCK + "\nOutput the label")
)
LISTING_4 = LISTING_2.replace("\n\nOutput the label", FIVE_SHOT_BLOCK + "\nOutput the label")

LISTING_5 = """You will be given a news text.
You are given two classification tasks.
You should output the result as a two json fields as {"task1": "task1_label", "task2": "task2_label"}
In the first task, given the news text, you are asked to classify it as one of the labels in the list NG7 and change task1_label to the correct label in the list.
In the second task, given the news text, you are asked to classify it as one of the labels in the list NG20 and change task2_label to the correct label in the list.


Output the two json fields only and absolutely nothing else.
Now it is your turn.

Beginning of <<News>>
A {brace} in the news
End of <<News>>

Output:""".replace("NG7", NG7_UNQUOTED_TALK).replace("NG20", NG20)

LISTING_6 = LISTING_5.replace("list.\n\n\nOutput the two", "list." + FIVE_SHOT_BLOCK + "\nOutput the two")

LISTING_7 = """You will be given an utter text.
Your task is to classify it as one of the labels in the list ['alarm_set', 'play_music'].

Output the label only and absolutely nothing else.
Now it is your turn.

Beginning of <<Utter>>
wake me up at nine
End of <<Utter>>

Label:"""

LISTING_8 = LISTING_7.replace("\n\nOutput the label", FIVE_SHOT_BLOCK + "\nOutput the label")

LISTING_9 = """You will be given an utter text.
Your task is to classify each of the word in the utter text as one of the labels in the list ['date', 'time'].
If none of the labels in the list are correct, then output the label for that word as "Other".
Put all the labels in the slots list.

Output the Slots only and absolutely nothing else.
Now it is your turn.

Beginning of <<Utter>>
wake me up at nine
End of <<Utter>>

Slots:"""

LISTING_10 = LISTING_9.replace(
    "\n\nOutput the Slots",
    FIVE_SHOT_BLOCK.replace("correct classification", "correct slot filling classification")
    + "\nOutput the Slots",
)

LISTING_11_SYSTEM = """You will be given an utter text.
You are given two classification tasks.
You should output the result as a two json fields as {"task1": "task1_label", "task2": "task2_label"}"""

LISTING_11 = """In the first task, given the utter text, you are asked to classify it as one of the labels in the list ['alarm_set', 'play_music'].
In the second task, given the utter text, you are asked to classify each of the word in the utter text as one of the labels in the list ['date', 'time']. If none of the labels in the list are correct, then output the label for that word as "Other". Put all the labels in the slots list.

Output the two json fields only and absolutely nothing else.
Now it is your turn.

Beginning of <<Utter>>
wake me up at nine
End of <<Utter>>

Output:"""

LISTING_12 = LISTING_11.replace("\n\nOutput the two", FIVE_SHOT_BLOCK + "\nOutput the two")

NG_LABELS = {"20class": json.loads(NG20.replace("'", '"')), "7class": json.loads(NG7)}
MASSIVE_LABELS = {"intent": ["alarm_set", "play_music"], "slots": ["Other", "date", "time"]}
NG_RECORD = {
    "id": "ng-test-1",
    "text": "A {brace} in the news",
    "labels": {"20class": "sci.space", "7class": "sci"},
}
MASSIVE_RECORD = {
    "id": "m-test-1",
    "text": "wake me up at nine",
    "words": ["wake", "me", "up", "at", "nine"],
    "labels": {"intent": "alarm_set", "slots": ["Other", "Other", "Other", "Other", "time"]},
}
NG_TRAIN = [
    {
        "id": f"ng-train-{i}",
        "text": f"news number {i}",
        "labels": {"20class": NG_LABELS["20class"][i], "7class": NG_LABELS["20class"][i].split(".")[0]},
    }
    for i in range(20)
]
MASSIVE_TRAIN = [
    {
        "id": f"m-train-{i}",
        "text": f"play song {i}",
        "words": ["play", "song", str(i)],
        "labels": {"intent": "play_music", "slots": ["Other", "Other", "time"]},
    }
    for i in range(10)
]
DATA = {
    "20newsgroups": (NG_RECORD, NG_TRAIN, NG_LABELS),
    "massive": (MASSIVE_RECORD, MASSIVE_TRAIN, MASSIVE_LABELS),
}

CASES = {  # listing: (dataset, subtasks, five-shot, user text, system text)
    2: ("20newsgroups", ["7class"], False, LISTING_2, None),
    3: ("20newsgroups", ["20class"], True, LISTING_3, None),
    4: ("20newsgroups", ["7class"], True, LISTING_4, None),
    5: ("20newsgroups", ["20class", "7class"], False, LISTING_5, None),
    6: ("20newsgroups", ["20class", "7class"], True, LISTING_6, None),
    7: ("massive", ["intent"], False, LISTING_7, None),
    8: ("massive", ["intent"], True, LISTING_8, None),
    9: ("massive", ["slots"], False, LISTING_9, None),
    10: ("massive", ["slots"], True, LISTING_10, None),
    11: ("massive", ["intent", "slots"], False, LISTING_11, LISTING_11_SYSTEM),
    12: ("massive", ["intent", "slots"], True, LISTING_12, LISTING_11_SYSTEM),
}


def _example_block(dataset: str, demos: list[dict], label_line) -> str:
    tag = "News" if dataset == "20newsgroups" else "Utter"
    return "\n\n".join(
        f"Beginning of <<{tag}>>\n{d['text']}\nEnd of <<{tag}>>\n\n{label_line(d)}" for d in demos
    )


def _label_line(subtasks: list[str]):
    if subtasks == ["20class", "7class"]:
        return lambda d: (
            f'Output: {{"task1": "{d["labels"]["7class"]}", "task2": "{d["labels"]["20class"]}"}}'
        )
    if subtasks == ["intent", "slots"]:
        return lambda d: (
            f'Output: {{"task1": "{d["labels"]["intent"]}", "task2": {json.dumps(d["labels"]["slots"])}}}'
        )
    if subtasks == ["slots"]:
        return lambda d: f"Slots: {json.dumps(d['labels']['slots'])}"
    return lambda d: f"Label: {d['labels'][subtasks[0]]}"


@pytest.mark.parametrize("listing", sorted(CASES))
def test_prompt_equals_listing(listing):
    dataset, subtasks, five_shot, user, system = CASES[listing]
    record, train, labels = DATA[dataset]
    demos = few_shot_demos(train, subtasks, seed=3) if five_shot else None
    [example] = prompt_examples([record], subtasks, dataset, demos, labels=labels)
    if five_shot:
        user = user.replace("<EXAMPLES>", _example_block(dataset, demos, _label_line(subtasks)))
    expected = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}
    ]
    assert example["messages"] == expected


def test_listing_1_in_the_inst_layout_of_a_tokenizer_without_chat_template():
    tokenizer = tiny_tokenizer("llama")
    assert not tokenizer.chat_template
    [example] = prompt_examples([NG_RECORD], ["20class"], "20newsgroups", None)
    assert render_prompt(tokenizer, example["messages"]) + example["answer"] == LISTING_1


def test_system_message_goes_into_the_llama2_sys_block():
    [example] = prompt_examples([MASSIVE_RECORD], ["intent", "slots"], "massive", None, labels=MASSIVE_LABELS)
    text = render_prompt(tiny_tokenizer("llama"), example["messages"])
    assert text == f"[INST]<<SYS>>\n{LISTING_11_SYSTEM}\n<</SYS>>\n\n{LISTING_11} [/INST]\n"


CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def test_a_tokenizers_own_chat_template_is_used_without_its_bos_text():
    tokenizer = tiny_tokenizer("llama")
    tokenizer.chat_template = CHAT_TEMPLATE
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert render_prompt(tokenizer, messages) == "<|system|>S<|end|><|user|>U<|end|><|assistant|>"


def test_answers_are_the_label_a_json_slot_list_or_the_consolidated_json():
    def answer(dataset, subtasks, record, labels=None):
        return prompt_examples([record], subtasks, dataset, None, labels=labels)[0]["answer"]

    assert answer("20newsgroups", ["7class"], NG_RECORD) == "sci"
    assert (
        answer("20newsgroups", ["20class", "7class"], NG_RECORD) == '{"task1": "sci", "task2": "sci.space"}'
    )
    assert answer("massive", ["slots"], MASSIVE_RECORD, MASSIVE_LABELS) == (
        '["Other", "Other", "Other", "Other", "time"]'
    )
    assert json.loads(answer("massive", ["intent", "slots"], MASSIVE_RECORD, MASSIVE_LABELS)) == {
        "task1": "alarm_set",
        "task2": ["Other", "Other", "Other", "Other", "time"],
    }


def test_example_carries_id_gold_in_config_order_and_words():
    [example] = prompt_examples([MASSIVE_RECORD], ["slots", "intent"], "massive", None, labels=MASSIVE_LABELS)
    assert example["id"] == "m-test-1"
    assert list(example["gold"]) == ["slots", "intent"]
    assert example["gold"]["intent"] == "alarm_set"
    assert example["words"] == MASSIVE_RECORD["words"]
    [ng] = prompt_examples([NG_RECORD], ["20class"], "20newsgroups", None)
    assert ng["words"] is None and ng["gold"] == {"20class": "sci.space"}


# --------------------------------------------------------------------------- demos


def test_demos_are_seeded_training_records_the_same_for_every_call():
    first = few_shot_demos(NG_TRAIN, ["20class"], seed=7)
    assert len(first) == 5 and len({d["id"] for d in first}) == 5
    assert all(d in NG_TRAIN for d in first)
    assert few_shot_demos(NG_TRAIN, ["20class", "7class"], seed=7) == first
    assert [d["id"] for d in few_shot_demos(NG_TRAIN, ["20class"], seed=8)] != [d["id"] for d in first]
    assert len(few_shot_demos(NG_TRAIN, ["20class"], seed=7, n=3)) == 3


def test_demos_need_enough_labelled_training_records():
    with pytest.raises(DataError, match="need 5 training records"):
        few_shot_demos(NG_TRAIN[:4], ["20class"], seed=0)
    with pytest.raises(DataError, match="ng-train"):
        few_shot_demos(NG_TRAIN, ["intent"], seed=0)


def test_demos_from_the_evaluated_records_are_refused():
    demos = few_shot_demos(NG_TRAIN, ["20class"], seed=1)
    with pytest.raises(DataError, match=demos[0]["id"]):
        prompt_examples([demos[0], NG_RECORD], ["20class"], "20newsgroups", demos)


def test_massive_prompts_need_the_label_lists():
    with pytest.raises(ValueError, match="labels"):
        prompt_examples([MASSIVE_RECORD], ["intent"], "massive", None)


def test_unknown_task_is_refused():
    with pytest.raises(ValueError, match="no zhao2025 prompt"):
        prompt_examples([NG_RECORD], ["intent"], "20newsgroups", None)


def test_answer_candidates():
    assert answer_candidates("7class", NG_LABELS) == NG_LABELS["7class"]
    assert answer_candidates("slots", MASSIVE_LABELS) is None


# --------------------------------------------------------------------------- parsing

WORDS = ["wake", "me", "up", "at", "nine"]


@pytest.mark.parametrize(
    "output",
    [
        "sci.space",
        "  Sci.Space \n",
        '"sci.space"',
        "sci.space.",
        "```\nsci.space\n```",
        '{"label": "sci.space"}',
        "The label is sci.space because it is about rockets.",
    ],
)
def test_a_label_is_read_from_plain_quoted_fenced_json_or_free_text(output):
    assert parse_output(output, ["20class"], NG_LABELS) == ({"20class": "sci.space"}, True)


def test_the_earliest_label_in_free_text_wins_and_the_longest_at_one_place():
    assert parse_output("comp.graphics, maybe sci", ["7class"], NG_LABELS) == ({"7class": "comp"}, True)
    assert parse_output("talk.politics.misc", ["20class"], NG_LABELS)[0] == {"20class": "talk.politics.misc"}


@pytest.mark.parametrize("output", ["", "no idea", "space science", None])
def test_no_label_is_a_parse_failure(output):
    assert parse_output(output, ["20class"], NG_LABELS) == ({"20class": None}, False)


@pytest.mark.parametrize(
    "output, slots",
    [
        ('["Other", "Other", "Other", "Other", "time"]', ["Other", "Other", "Other", "Other", "time"]),
        ("['Other', 'O', 'other', 'Other', 'TIME'] that's all", ["Other", "Other", "Other", "Other", "time"]),
        ('["Other", "Other"]', ["Other"] * 5),  # padded with Other
        ('["time", "time", "time", "time", "time", "date", "date"]', ["time"] * 5),  # extras cut
        ('{"slots": ["B-time", "I-time"]}', ["time", "time", "Other", "Other", "Other"]),
        ("Other Other Other Other time", ["Other", "Other", "Other", "Other", "time"]),
        ('["Other", "alarm_type"]', ["Other", "alarm_type", "Other", "Other", "Other"]),  # unknown label kept
    ],
)
def test_slot_lists_are_read_and_aligned_to_the_words(output, slots):
    assert parse_output(output, ["slots"], MASSIVE_LABELS, WORDS) == ({"slots": slots}, True)


@pytest.mark.parametrize("output", ["[", "[]", "the slots are time", '["Other", 3]'])
def test_unreadable_slot_lists_fail(output):
    assert parse_output(output, ["slots"], MASSIVE_LABELS, WORDS) == ({"slots": None}, False)


def test_slots_need_the_words():
    with pytest.raises(ValueError, match="words"):
        parse_output("[]", ["slots"], MASSIVE_LABELS)


def test_consolidated_json_with_trailing_text_or_in_python_syntax():
    subtasks = ["20class", "7class"]
    expected = ({"20class": "sci.space", "7class": "sci"}, True)
    assert (
        parse_output('{"task1": "sci", "task2": "sci.space"}\nHope this helps!', subtasks, NG_LABELS)
        == expected
    )
    assert parse_output("Output: {'task1': 'SCI', 'task2': 'sci.space'}", subtasks, NG_LABELS) == expected
    assert parse_output('{"7class": "sci", "20class": "sci.space"}', subtasks, NG_LABELS) == expected


def test_consolidated_output_cut_off_keeps_the_complete_field():
    output = '{"task1": "alarm_set", "task2": ["Other", "Oth'
    pred, parsed = parse_output(output, ["intent", "slots"], MASSIVE_LABELS, WORDS)
    assert (pred, parsed) == ({"intent": "alarm_set", "slots": None}, False)


def test_consolidated_field_with_a_wrong_label_is_none_not_searched():
    pred, parsed = parse_output(
        '{"task1": "science", "task2": "sci.space"}', ["20class", "7class"], NG_LABELS
    )
    assert (pred, parsed) == ({"20class": "sci.space", "7class": None}, False)


@pytest.mark.parametrize("dataset, subtasks", [(d, s) for d, s, *_ in CASES.values()])
def test_every_answer_parses_back_to_its_gold(dataset, subtasks):
    record, _, labels = DATA[dataset]
    [example] = prompt_examples([record], subtasks, dataset, None, labels=labels)
    assert parse_output(example["answer"], subtasks, labels, example["words"]) == (example["gold"], True)
