"""One dataset's raw release -> its derived JSONL splits and labels.json; the rule's params are the
deriving function's keyword arguments (row caps, seed, options of the dataset)."""

from pathlib import Path

from ftrepro.data.arena import derive_arena
from ftrepro.data.massive import derive_massive
from ftrepro.data.newsgroups import derive_newsgroups
from ftrepro.data.sources import verify_checksums
from ftrepro.workflow import job, keyword_params

# dataset -> the file of its release under resources/raw/<dataset>/ and what derives it
DERIVE = {
    "20newsgroups": ("20news-bydate.tar.gz", derive_newsgroups),
    "massive": ("en-US.jsonl", derive_massive),
    "arena": ("train.csv", derive_arena),
}

with job(snakemake) as log:
    raw_dir = Path(snakemake.input[0])
    log.info("%d raw files match SHA256SUMS", verify_checksums(raw_dir))
    raw_file, derive = DERIVE[raw_dir.name]
    out_dir = Path(snakemake.output.labels).parent
    kwargs = keyword_params(snakemake)
    if "strip" in kwargs:  # snakemake reserves `remove`, derive_newsgroups' name for it
        kwargs["remove"] = tuple(kwargs.pop("strip"))
    log.info("%s", derive(raw_dir / raw_file, out_dir, **kwargs))
