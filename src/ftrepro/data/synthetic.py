"""Small synthetic stand-ins for the four raw datasets, in their real file formats.

They let the whole pipeline run offline with tiny models: the text is drawn from closed word
banks (so `vocabulary()` lists every word a tiny tokenizer needs) and every label is a simple
function of the words, so a tiny model learns it in a few epochs. Same seed, same bytes.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import re
import tarfile
from pathlib import Path

from ftrepro.io import atomic_path

# --- word banks --------------------------------------------------------------------------

# The 20 real newsgroups, each with its own topical words (banks are disjoint: the signal).
NEWSGROUP_WORDS: dict[str, list[str]] = {
    "alt.atheism": (
        "god atheism atheist religion belief bible faith islam morality argument existence theism moral "
        "scripture evidence deity"
    ).split(),
    "comp.graphics": (
        "graphics image pixel render polygon texture format jpeg gif color software viewer animation "
        "bitmap raytrace vertex"
    ).split(),
    "comp.os.ms-windows.misc": (
        "windows dos driver microsoft install memory setup program icon desktop crash config font swap "
        "printer win31"
    ).split(),
    "comp.sys.ibm.pc.hardware": (
        "ide scsi controller motherboard bios drive jumper floppy card isa bus cpu irq port modem cache"
    ).split(),
    "comp.sys.mac.hardware": (
        "mac apple quadra powerbook centris simm monitor lc duo nubus upgrade rom adb performa iisi fpu"
    ).split(),
    "comp.windows.x": (
        "xterm motif widget server client display window xlib openwindows toolkit resource event xview "
        "compile colormap x11r5"
    ).split(),
    "misc.forsale": (
        "sale offer price shipping condition sell brand new asking obo used warranty manual box "
        "interested cheap"
    ).split(),
    "rec.autos": (
        "car engine dealer ford toyota mileage brakes tires transmission sedan wagon honda oil speed "
        "highway v8"
    ).split(),
    "rec.motorcycles": (
        "bike motorcycle helmet ride rider dod harley bmw yamaha kawasaki countersteering throttle gear "
        "leathers biker clutch"
    ).split(),
    "rec.sport.baseball": (
        "baseball pitcher hitter inning season braves yankees runs batting league homer catcher mets "
        "outfield stats pitching"
    ).split(),
    "rec.sport.hockey": (
        "hockey nhl goalie puck playoff penguins rangers leafs bruins wings ice coach stanley cup period "
        "defenseman"
    ).split(),
    "sci.crypt": (
        "encryption clipper key chip nsa crypto privacy escrow cipher des pgp wiretap secure rsa decrypt keys"
    ).split(),
    "sci.electronics": (
        "circuit voltage resistor amplifier capacitor battery wire signal power transistor ground current "
        "diode output led solder"
    ).split(),
    "sci.med": (
        "doctor patient disease treatment medicine symptoms pain drug cancer diet infection clinical "
        "therapy msg vitamin physician"
    ).split(),
    "sci.space": (
        "space nasa orbit launch shuttle moon satellite mission earth rocket spacecraft lunar planet mars "
        "station solar"
    ).split(),
    "soc.religion.christian": (
        "jesus church christ sin prayer christians lord holy spirit heaven salvation catholic grace "
        "gospel worship sacrament"
    ).split(),
    "talk.politics.guns": (
        "gun guns firearms weapons rifle handgun nra batf amendment waco fbi militia criminals ammunition "
        "shooting carry"
    ).split(),
    "talk.politics.mideast": (
        "israel israeli arab armenian turkish palestinian jews lebanon turkey genocide armenians "
        "azerbaijan territories gaza peace occupation"
    ).split(),
    "talk.politics.misc": (
        "government president clinton tax taxes congress law policy rights state federal administration "
        "vote citizens budget liberal"
    ).split(),
    "talk.religion.misc": (
        "koresh cult religious prophet revelation morals truth compassion biblical teachings "
        "fundamentalist divine doctrine spiritual believers sect"
    ).split(),
}

FILLER_WORDS = (
    "i you we it this that the a is are was have has think know would could about with for not but "
    "and or of to in on some any anyone does people like just really there what why how good problem "
    "question thanks time way one two also so if can get my your me all more than when which"
).split()

_FIRST_NAMES = "John Mary Steve Linda Mike Susan Paul Karen Tom Laura".split()
_LAST_NAMES = "Smith Jones Brown Miller Wilson Taylor Clark Lewis Young Walker".split()
_HOSTS = "cs.cmu.edu mit.edu uiuc.edu netcom.com ucsd.edu cco.caltech.edu world.std.com umontreal.ca".split()
_ORGANIZATIONS = [
    "Carnegie Mellon University",
    "Massachusetts Institute of Technology",
    "University of Illinois at Urbana",
    "NETCOM On-line Communication Services",
    "University of California, San Diego",
    "California Institute of Technology",
    "The World Public Access UNIX",
    "Université de Montréal",  # non-ASCII: the archive is latin-1, as the real one
]

# MASSIVE: real scenario/intent/slot names; templates mark slots as {slot}.
# One word per value: a template's words then fix how many labels its answer has, which a
# tiny decoder learns in a few hundred steps (BIO spans are single words).
MASSIVE_SLOT_VALUES: dict[str, list[str]] = {
    "time": ["five", "nine", "seven", "noon", "midnight", "six", "ten"],
    "date": ["friday", "tomorrow", "today", "monday", "tonight", "sunday", "weekend"],
    "place_name": ["boston", "paris", "london", "tokyo", "chicago", "berlin", "madrid"],
    "artist_name": ["adele", "madonna", "beyonce", "shakira", "drake"],
    "music_genre": ["jazz", "rock", "classical", "reggae", "country"],
    "event_name": ["meeting", "dentist", "party", "lunch", "yoga"],
    "house_place": ["kitchen", "bedroom", "bathroom", "office", "garage"],
    "color_type": ["blue", "red", "green", "white", "purple"],
    "food_type": ["pizza", "sushi", "tacos", "noodles", "burgers", "lasagna"],
    "business_name": ["dominos", "starbucks", "subway", "mcdonalds", "chipotle"],
    "transport_type": ["train", "taxi", "bus", "flight"],
    "person": ["john", "mary", "sarah", "alex", "peter"],
    "relation": ["mom", "dad", "sister", "brother", "boss"],
    "news_topic": ["sports", "politics", "technology", "business", "science"],
    "weather_descriptor": ["rain", "snow", "sunny", "windy", "cold"],
    "timeofday": ["morning", "evening", "night", "afternoon"],
    "currency_name": ["dollars", "euros", "yen", "pounds"],
    "device_type": ["vacuum", "roomba", "fan", "heater"],
}

# Every template makes an utterance of UTTERANCE_WORDS words (slot values are one word): the
# n-th label of an answer then always sits the same distance after the n-th word of the prompt.
UTTERANCE_WORDS = 6
MASSIVE_TEMPLATES: dict[tuple[str, str], list[str]] = {
    ("alarm", "alarm_set"): [
        "wake me up at {time} {date}",
        "set an alarm for {time} please",
        "please set an alarm {date} {time}",
    ],
    ("alarm", "alarm_query"): [
        "what alarms do i have {date}",
        "show me all my alarms please",
        "is there an alarm at {time}",
    ],
    ("alarm", "alarm_remove"): [
        "delete the alarm for {time} please",
        "remove my {date} alarm right now",
        "cancel all of my alarms now",
    ],
    ("weather", "weather_query"): [
        "what is the weather in {place_name}",
        "will it {weather_descriptor} in {place_name} {date}",
        "how is the weather this {timeofday}",
    ],
    ("play", "play_music"): [
        "play some songs by {artist_name} now",
        "play some {music_genre} music for me",
        "i want to hear {artist_name} songs",
    ],
    ("calendar", "calendar_set"): [
        "remind me about the {event_name} {date}",
        "add {event_name} to my calendar {date}",
    ],
    ("calendar", "calendar_query"): ["what is on my calendar {date}", "when is my {event_name} this week"],
    ("iot", "iot_hue_lightoff"): [
        "turn off lights in the {house_place}",
        "switch off the {house_place} lights please",
    ],
    ("iot", "iot_hue_lightchange"): [
        "change all the lights to {color_type}",
        "make the {house_place} lights {color_type} please",
    ],
    ("iot", "iot_cleaning"): [
        "please start the {device_type} right now",
        "turn on the {device_type} in {house_place}",
    ],
    ("takeaway", "takeaway_order"): [
        "order {food_type} from {business_name} for me",
        "i want to order some {food_type}",
    ],
    ("transport", "transport_ticket"): [
        "book a {transport_type} ticket to {place_name}",
        "get me a {transport_type} ticket {date}",
    ],
    ("news", "news_query"): ["show me the latest {news_topic} news", "what is new in {news_topic} {date}"],
    ("general", "general_joke"): [
        "tell me a joke right now",
        "please make me laugh a little",
        "say something funny to me please",
    ],
    ("email", "email_sendemail"): [
        "send an email to {person} now",
        "email my {relation} i am late",
    ],
    ("datetime", "datetime_query"): ["what time is it in {place_name}", "what is the date {date} please"],
    ("qa", "qa_currency"): [
        "convert ten dollars to {currency_name} please",
        "how much is that in {currency_name}",
    ],
    ("cooking", "cooking_recipe"): ["how do i make some {food_type}", "give me a recipe for {food_type}"],
    ("audio", "audio_volume_up"): [
        "turn the volume up a bit",
        "please make it a lot louder",
        "increase the volume a little please",
    ],
}

# SuperNI: sentences about a topic; the output of each task kind is a function of the input.
SUPERNI_TOPIC_WORDS: dict[str, list[str]] = {
    "sports": "football soccer tennis goal team match player score referee stadium".split(),
    "food": "bread cheese apple soup salad butter pasta rice cake pepper".split(),
    "music": "guitar piano song melody drum singer concert album violin chorus".split(),
    "travel": "airport hotel passport luggage beach museum tourist journey map island".split(),
    "weather": "storm cloud wind thunder rainbow fog breeze temperature forecast humidity".split(),
    "science": "atom molecule energy gravity cell experiment theory laboratory electron telescope".split(),
}
_SUPERNI_FILLER = "the a my our this that big small old new very often today always with near".split()

SUPERNI_DEFINITIONS: dict[str, str] = {
    "topic": "In this task, you are given a sentence. Classify its topic as one of: "
    + ", ".join(SUPERNI_TOPIC_WORDS)
    + ".",
    "contains": "In this task, you are given a sentence and a word. Answer yes if the sentence contains the word, "
    "otherwise answer no.",
    "first_words": "In this task, you are given a sentence. Write its first three words.",
    "reverse": "In this task, you are given a sentence. Write its words in reverse order.",
    "keywords": "In this task, you are given a sentence. List its keywords, the words that are not common words, "
    "in the order they appear.",
    "dedup": "In this task, you are given a sentence in which some words are repeated. Write the sentence "
    "without the repeated words.",
    "title": "In this task, you are given a sentence. Write a short title for it that names its topic.",
    "join": "In this task, you are given a list of words separated by commas. Write them as one sentence.",
}
_EXPLANATIONS = ["The output follows the definition.", "The output does not follow the definition."]
# The "Definition + 2 positive examples" encoding (docs/protocols.md 1.2) adds these words.
_PROMPT_WORDS = "Definition : Positive Example 1 2 3 - Input . Output Now complete the following example"

# The classification listings (the paper package's prompts.yaml) in the [INST] layout add these words, and
# repeat these markers per example (whitespace-separated, as a prompt writes them), which a tiny
# tokenizer keeps whole: a five-shot prompt of a tiny decoder then holds half the tokens of one
# spelled character by character, which costs compute and dilutes the signal of the post it asks about.
_ZHAO_PROMPT_WORDS = (
    "absolutely asked be Beginning Bellow classification correct each else End Examples examples fields "
    "filling json label Label labels none nothing only Put result second should slot Slots slots task1 "
    "task1_label task2 task2_label tasks text then utter Utter INST SYS Output"
)
ZHAO_PROMPT_MARKERS = (
    "[INST]",
    "[/INST]",
    "<<SYS>>",
    "<</SYS>>",
    "<<News>>",
    "<<Utter>>",
    "<<Examples>>",
    "Label:",
    "Slots:",
    "Output:",
)

# The 12 SuperNI evaluation categories and the task kind used for each (exact match ones get labels).
SUPERNI_CATEGORY_KINDS: dict[str, str] = {
    "Textual Entailment": "contains",
    "Cause Effect Classification": "topic",
    "Coreference Resolution": "topic",
    "Dialogue Act Recognition": "topic",
    "Answerability Classification": "contains",
    "Word Analogy": "topic",
    "Overlap Extraction": "first_words",
    "Keyword Tagging": "keywords",
    "Question Rewriting": "reverse",
    "Title Generation": "title",
    "Data to Text": "join",
    "Grammar Error Correction": "dedup",
}
_TRAIN_CATEGORIES = {
    "topic": "Text Categorization",
    "contains": "Answer Verification",
    "first_words": "Text Completion",
    "reverse": "Word Semantics",
    "keywords": "Keyword Tagging",
    "dedup": "Grammar Error Correction",
    "title": "Title Generation",
    "join": "Data to Text",
}

# SuperNI at the real default track's size, for benchmarks (write_synthetic_raw("superni", ...,
# **SUPERNI_REAL_SIZE)): 119 test tasks whose training pools (the instances after the first 110)
# hold ~375k instances in all, and 756 training tasks.
SUPERNI_REAL_SIZE = {
    "n_test_tasks": 119,
    "test_instances_per_task": 3260,
    "n_train_tasks": 756,
    "instances_per_task": 150,
}

# Chatbot Arena: real model names; good answers stay on topic, bad ones refuse or wander off.
ARENA_MODELS = [
    "gpt-4-1106-preview",
    "gpt-4-0613",
    "gpt-3.5-turbo-0613",
    "claude-2.1",
    "claude-instant-1",
    "llama-2-70b-chat",
    "mixtral-8x7b-instruct-v0.1",
    "vicuna-13b",
    "mistral-medium",
    "gemini-pro",
]
_ARENA_PROMPTS = [
    "tell me about {w}",
    "how do i learn about {w}?",
    "can you explain {w} to me?",
    "write a short note on {w}",
]
_ARENA_GOOD = [
    "sure! here is a clear answer about {w}: {s}. i hope this helps.",
    "great question. {w} is interesting: {s}. let me know if you want more detail.",
]
_ARENA_BAD = [
    "sorry, i can not help with that.",
    "i do not know.",
    "as an ai model i can not answer.",
    "{s}.",
]
_TOKEN = re.compile(r"\w+|[^\w\s]")


def _all_text_sources() -> list[str]:
    """Every string the generators assemble text from, plus the label names."""
    texts: list[str] = [" ".join(ws) for ws in NEWSGROUP_WORDS.values()]
    texts += [" ".join(FILLER_WORDS), " ".join(_FIRST_NAMES), " ".join(_LAST_NAMES), " ".join(_HOSTS)]
    texts += (
        _ORGANIZATIONS
        + list(NEWSGROUP_WORDS)
        + [
            "From: Subject: Re: Organization: Lines: Nntp-Posting-Host:",
            "In article < > writes: > -- . ? @ ( )",
            " ".join(_FIRST_NAMES).lower(),
        ]
    )
    texts += [" ".join(v) for v in MASSIVE_SLOT_VALUES.values()] + list(MASSIVE_SLOT_VALUES)
    texts += [t for ts in MASSIVE_TEMPLATES.values() for t in ts] + [i for _, i in MASSIVE_TEMPLATES]
    texts += [s for s, _ in MASSIVE_TEMPLATES] + ["[ : ] Other"]
    texts += [" ".join(ws) for ws in SUPERNI_TOPIC_WORDS.values()] + list(SUPERNI_TOPIC_WORDS)
    texts += [" ".join(_SUPERNI_FILLER), "yes no a note about the and , . Sentence: Word:", _PROMPT_WORDS]
    texts += [*SUPERNI_DEFINITIONS.values(), *_EXPLANATIONS, _ZHAO_PROMPT_WORDS, *ZHAO_PROMPT_MARKERS]
    texts += ARENA_MODELS + _ARENA_PROMPTS + _ARENA_GOOD + _ARENA_BAD
    texts += [str(n) for n in range(100)]  # header line counts, example numbers
    return texts


def label_names() -> list[str]:
    """Every label a model answers with in the classification prompts (sorted, unique): the 20 groups,
    their 7 roots, the MASSIVE intents and slot names, and "Other" (words outside every slot).
    A tiny tokenizer gives each a token of its own in the answer layouts (ftrepro.models.tiny)."""
    groups = list(NEWSGROUP_WORDS)
    roots = {group.split(".", 1)[0] for group in groups}
    intents = [intent for _, intent in MASSIVE_TEMPLATES]
    return sorted({*groups, *roots, *intents, *MASSIVE_SLOT_VALUES, "Other"})


def vocabulary() -> list[str]:
    """Every token the generators can emit (sorted, unique), label names included.

    A token is a run of word characters or a single other character (regex `\\w+|[^\\w\\s]`).
    Apart from the signature line "-- " of 20 Newsgroups posts (listed as "--" too), the
    generators never put two punctuation characters side by side, so a pre-tokenizer splitting
    on `\\w+|[^\\w\\s]+` (tokenizers' `Whitespace`) sees tokens of this list as well.
    """
    return sorted({tok for text in _all_text_sources() for tok in _TOKEN.findall(text)} | {"--"})


# --- generators ----------------------------------------------------------------------------


# What the pipeline's synthetic source (data.source: synthetic) writes beyond the defaults:
# SuperNI test tasks with 160 training instances after the 100 test and 10 validation ones, so
# that the tiny preset's train cap (160) binds and 100 samples per task differ from 200.
PIPELINE_SIZES: dict[str, dict] = {"superni": {"test_instances_per_task": 270}}


def write_synthetic_raw(dataset: str, out_dir: Path, *, seed: int, **sizes) -> list[Path]:
    """Write `dataset`'s raw file(s) into `out_dir` (its raw directory) in the real format.

    sizes (all optional): 20newsgroups `train_per_group=20, test_per_group=15`; massive
    `n_rows=450`; superni `test_tasks=None` (names; None: `n_test_tasks` synthetic ones, by
    default one per evaluation category), `categories=None` ({task: category}),
    `n_train_tasks=8`, `instances_per_task=150`, `test_instances_per_task=None` (None: as the
    others; SUPERNI_REAL_SIZE gives the real dataset's size); arena `n_rows=1000` (a tiny test split of 64 held-out rows), `competition_rows=3` (test.csv). Returns the
    paths written.
    """
    writers = {
        "20newsgroups": _write_newsgroups,
        "massive": _write_massive,
        "superni": _write_superni,
        "arena": _write_arena,
    }
    if dataset not in writers:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(writers)}")
    rng = random.Random(f"{dataset}:{seed}")  # str seeds hash deterministically
    return writers[dataset](Path(out_dir), rng, **sizes)


def _sentence(
    rng: random.Random, topical: list[str], filler: list[str], n: int, p_topical: float
) -> list[str]:
    return [rng.choice(topical) if rng.random() < p_topical else rng.choice(filler) for _ in range(n)]


def _newsgroup_post(rng: random.Random, group: str) -> str:
    words = NEWSGROUP_WORDS[group]
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    host = rng.choice(_HOSTS)
    email = f"{first.lower()}@{host}"
    subject = " ".join(rng.sample(words, rng.randint(2, 4)))
    body: list[str] = []
    if rng.random() < 0.3:  # a quoted reply, for remove=("quotes",)
        other = rng.choice(_FIRST_NAMES).lower() + "@" + rng.choice(_HOSTS)
        body.append(f"In article <{other}> {other} writes:")
        body.append("> " + " ".join(_sentence(rng, words, FILLER_WORDS, 6, 0.6)) + ".")
        body.append("")
        subject = "Re: " + subject
    # short posts (a few dozen tokens): five-shot prompts of five posts stay cheap for tiny models
    for _ in range(rng.randint(1, 3)):
        body.append(" ".join(_sentence(rng, words, FILLER_WORDS, rng.randint(5, 9), 0.6)) + rng.choice(".?"))
    if rng.random() < 0.3:  # a signature, for remove=("footers",)
        body += ["-- ", f"{first} {last}", host]
    headers = [f"From: {email} ({first} {last})", f"Subject: {subject}"]
    if rng.random() < 0.5:
        headers.append(f"Nntp-Posting-Host: {host}")
    headers += [f"Organization: {rng.choice(_ORGANIZATIONS)}", f"Lines: {len(body)}"]
    return "\n".join(headers) + "\n\n" + "\n".join(body) + "\n"


def _tar_add(tar: tarfile.TarFile, name: str, data: bytes | None) -> None:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    else:
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))


def _write_newsgroups(
    out_dir: Path, rng: random.Random, *, train_per_group: int = 20, test_per_group: int = 15
) -> list[Path]:
    target = out_dir / "20news-bydate.tar.gz"
    next_id = {g: 50000 + 1000 * i for i, g in enumerate(NEWSGROUP_WORDS)}
    with (
        atomic_path(target) as tmp,
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        for split, per_group in (("train", train_per_group), ("test", test_per_group)):
            _tar_add(tar, f"20news-bydate-{split}/", None)
            for group in sorted(NEWSGROUP_WORDS):
                _tar_add(tar, f"20news-bydate-{split}/{group}/", None)
                for _ in range(per_group):
                    next_id[group] += rng.randint(1, 40)  # ids grow with date, as in bydate
                    text = _newsgroup_post(rng, group)
                    _tar_add(tar, f"20news-bydate-{split}/{group}/{next_id[group]}", text.encode("latin-1"))
    return [target]


def _massive_record(rng: random.Random, scenario: str, intent: str) -> tuple[str, str]:
    template = rng.choice(MASSIVE_TEMPLATES[scenario, intent])
    utt, annot = [], []
    for chunk in template.split():
        if chunk.startswith("{"):
            slot = chunk[1:-1]
            value = rng.choice(MASSIVE_SLOT_VALUES[slot])
            utt.append(value)
            annot.append(f"[{slot} : {value}]")
        else:
            utt.append(chunk)
            annot.append(chunk)
    return " ".join(utt), " ".join(annot)


def _write_massive(out_dir: Path, rng: random.Random, *, n_rows: int = 450) -> list[Path]:
    intents = list(MASSIVE_TEMPLATES)
    # SLURP-like partition shares (train 70%, dev 12%, test 18%), shuffled over ids
    n_dev, n_test = round(n_rows * 0.12), round(n_rows * 0.18)
    partitions = ["dev"] * n_dev + ["test"] * n_test + ["train"] * (n_rows - n_dev - n_test)
    rng.shuffle(partitions)
    rows = []
    for i, partition in enumerate(partitions):
        scenario, intent = intents[i % len(intents)] if i < len(intents) else rng.choice(intents)
        utt, annot = _massive_record(rng, scenario, intent)
        rows.append(
            {
                "id": str(i),
                "locale": "en-US",
                "partition": partition,
                "scenario": scenario,
                "intent": intent,
                "utt": utt,
                "annot_utt": annot,
                "worker_id": str(rng.randint(1, 60)),
            }
        )
    target = out_dir / "en-US.jsonl"
    with atomic_path(target) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return [target]


def _superni_instance(rng: random.Random, kind: str, word: str) -> tuple[str, list[str]]:
    """One (input, outputs) pair of a task kind; `word` is the task's own word for "contains"."""
    topic = rng.choice(list(SUPERNI_TOPIC_WORDS))
    topical = SUPERNI_TOPIC_WORDS[topic]
    words = _sentence(rng, topical, _SUPERNI_FILLER, rng.randint(5, 9), 0.5)
    words[rng.randrange(len(words))] = rng.choice(topical)  # at least one keyword
    if kind == "contains":
        if rng.random() < 0.5:
            words[rng.randrange(len(words))] = word
        else:
            words = [w for w in words if w != word] or ["the"]
        return f"Sentence: {' '.join(words)}. Word: {word}.", ["yes" if word in words else "no"]
    sentence = " ".join(words)
    if kind == "topic":
        return sentence + ".", [topic]
    if kind == "first_words":
        return sentence + ".", [" ".join(words[:3])]
    if kind == "reverse":
        return sentence + ".", [" ".join(reversed(words))]
    if kind == "keywords":
        keys = [w for w in words if w not in _SUPERNI_FILLER]
        return sentence + ".", [", ".join(keys), " ".join(keys)]
    if kind == "dedup":
        noisy = [x for w in words for x in ([w, w] if rng.random() < 0.3 else [w])]
        return " ".join(noisy) + ".", [sentence + "."]
    if kind == "title":
        return sentence + ".", [f"a note about {topic}", topic]
    if kind == "join":
        keys = [w for w in words if w not in _SUPERNI_FILLER]
        return ", ".join(keys) + ".", [f"the {' and the '.join(keys)}."]
    raise ValueError(f"unknown SuperNI task kind {kind!r}")


def _superni_task(rng: random.Random, name: str, category: str, kind: str, n_instances: int) -> dict:
    word = rng.choice([w for ws in SUPERNI_TOPIC_WORDS.values() for w in ws])
    prefix = name.split("_", 1)[0]  # real ids are "task1345-<hex>"

    def example(good: bool) -> dict:
        x, ys = _superni_instance(rng, kind, word)
        y = ys[0] if good else _superni_instance(rng, kind, word)[1][0]
        return {"input": x, "output": y, "explanation": _EXPLANATIONS[0 if good else 1]}

    instances = []
    for _ in range(n_instances):
        x, ys = _superni_instance(rng, kind, word)
        instances.append({"id": f"{prefix}-{rng.getrandbits(128):032x}", "input": x, "output": ys})
    return {
        "Contributors": ["Synthetic Generator"],
        "Source": ["synthetic"],
        "URL": ["https://example.org/synthetic"],
        "Categories": [category],
        "Reasoning": [],
        "Definition": [SUPERNI_DEFINITIONS[kind]],
        "Input_language": ["English"],
        "Output_language": ["English"],
        "Instruction_language": ["English"],
        "Domains": ["Synthetic"],
        "Positive Examples": [example(True) for _ in range(rng.randint(2, 3))],
        "Negative Examples": [example(False)],
        "Instances": instances,
    }


def _write_superni(
    out_dir: Path,
    rng: random.Random,
    *,
    test_tasks: list[str] | None = None,
    n_test_tasks: int = len(SUPERNI_CATEGORY_KINDS),
    categories: dict[str, str] | None = None,
    n_train_tasks: int = 8,
    instances_per_task: int = 150,
    test_instances_per_task: int | None = None,
) -> list[Path]:
    eval_categories = list(SUPERNI_CATEGORY_KINDS)
    if test_tasks is None:
        slugs = [c.lower().replace(" ", "_") for c in eval_categories]
        test_tasks = [f"task{9800 + i}_synthetic_{slugs[i % len(slugs)]}" for i in range(n_test_tasks)]
    categories = categories or {}
    kinds = list(SUPERNI_DEFINITIONS)
    test_size = test_instances_per_task or instances_per_task
    tasks: dict[str, tuple[str, str, int]] = {}  # name -> (category, kind, instances)
    for i, name in enumerate(test_tasks):
        category = categories.get(name, eval_categories[i % len(eval_categories)])
        tasks[name] = (category, SUPERNI_CATEGORY_KINDS.get(category, kinds[i % len(kinds)]), test_size)
    train_tasks = [f"task{9000 + i}_synthetic_{kinds[i % len(kinds)]}" for i in range(n_train_tasks)]
    excluded = ["task9999_synthetic_excluded_copy"]
    for i, name in enumerate(train_tasks + excluded):
        kind = kinds[i % len(kinds)]
        tasks[name] = (_TRAIN_CATEGORIES[kind], kind, instances_per_task)
    clash = set(test_tasks) & set(train_tasks + excluded)
    if clash:
        raise ValueError(f"test task names clash with synthetic train task names: {sorted(clash)}")
    with atomic_path(out_dir) as tmp:
        (tmp / "tasks").mkdir(parents=True)
        (tmp / "splits" / "default").mkdir(parents=True)
        for name, (category, kind, size) in tasks.items():
            task = _superni_task(rng, name, category, kind, size)
            text = json.dumps(task, indent=4, ensure_ascii=False)  # the real files' layout
            (tmp / "tasks" / f"{name}.json").write_text(text, encoding="utf-8")
        for split, names in (("train", train_tasks), ("test", test_tasks), ("excluded", excluded)):
            (tmp / "splits" / "default" / f"{split}_tasks.txt").write_text("".join(n + "\n" for n in names))
    return [out_dir]


def _arena_response(rng: random.Random, good: bool, word: str, topical: list[str]) -> str | None:
    if rng.random() < 0.05:
        return None  # the real data has null turns
    sentence = " ".join(_sentence(rng, topical, FILLER_WORDS, rng.randint(6, 12), 0.6 if good else 0.0))
    return rng.choice(_ARENA_GOOD if good else _ARENA_BAD).format(w=word, s=sentence)


def _write_arena(
    out_dir: Path, rng: random.Random, *, n_rows: int = 1000, competition_rows: int = 3
) -> list[Path]:
    """train.csv, and the competition's test.csv (no winners, no model names): Kaggle shows 3 rows."""
    columns = [
        "id",
        "model_a",
        "model_b",
        "prompt",
        "response_a",
        "response_b",
        "winner_model_a",
        "winner_model_b",
        "winner_tie",
    ]
    banks = list(NEWSGROUP_WORDS.values())
    row_id = 30000
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for _ in range(n_rows):
        row_id += rng.randint(1, 5000)
        model_a, model_b = rng.sample(ARENA_MODELS, 2)
        prompts, resp_a, resp_b, score_a, score_b = [], [], [], 0, 0
        for _ in range(rng.choices([1, 2, 3], weights=[6, 3, 1])[0]):
            topical = rng.choice(banks)
            word = rng.choice(topical)
            good_a, good_b = rng.random() < 0.5, rng.random() < 0.5
            prompts.append(rng.choice(_ARENA_PROMPTS).format(w=word))
            resp_a.append(_arena_response(rng, good_a, word, topical))
            resp_b.append(_arena_response(rng, good_b, word, topical))
            score_a += good_a and resp_a[-1] is not None
            score_b += good_b and resp_b[-1] is not None
        # the better side wins nine times in ten; equal quality is mostly a tie (votes stay noisy,
        # but the rule is clear enough for a tiny model to beat the uniform log loss by far)
        if score_a == score_b:
            winner = rng.choices("abt", weights=[1, 1, 8])[0]
        else:
            better, worse = ("a", "b") if score_a > score_b else ("b", "a")
            winner = rng.choices([better, worse, "t"], weights=[18, 1, 1])[0]
        writer.writerow(
            [
                row_id,
                model_a,
                model_b,
                json.dumps(prompts),
                json.dumps(resp_a),
                json.dumps(resp_b),
                int(winner == "a"),
                int(winner == "b"),
                int(winner == "t"),
            ]
        )
    target = out_dir / "train.csv"
    with atomic_path(target) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    return [target, _write_arena_competition_test(out_dir, rng, competition_rows)]


def _write_arena_competition_test(out_dir: Path, rng: random.Random, n_rows: int) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "prompt", "response_a", "response_b"])
    banks = list(NEWSGROUP_WORDS.values())
    for row_id in range(136060, 136060 + n_rows):
        topical = rng.choice(banks)
        word = rng.choice(topical)
        responses = [_arena_response(rng, rng.random() < 0.5, word, topical) for _ in "ab"]
        writer.writerow(
            [
                row_id,
                json.dumps([rng.choice(_ARENA_PROMPTS).format(w=word)]),
                *map(json.dumps, [[r] for r in responses]),
            ]
        )
    target = out_dir / "test.csv"
    with atomic_path(target) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    return target
