"""The majority intent of the train split as the prediction for every test utterance."""

from collections import Counter

from ftrepro.io import read_jsonl, write_jsonl
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    majority = Counter(r["labels"]["intent"] for r in read_jsonl(sm.input.train)).most_common(1)[0][0]
    test = read_jsonl(sm.input.test)
    write_jsonl(
        sm.output[0],
        [
            {"id": r["id"], "gold": {"intent": r["labels"]["intent"]}, "pred": {"intent": majority}}
            for r in test
        ],
    )
    log.info("%s for %d utterances", majority, len(test))
