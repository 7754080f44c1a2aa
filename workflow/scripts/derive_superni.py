"""SuperNI: per test task test/validation/train splits with both encodings, the pre-finetuning set;
the rule's params are derive_superni's keyword arguments."""

from pathlib import Path

from ftrepro.data.sources import verify_checksums
from ftrepro.data.superni import derive_superni
from ftrepro.workflow import job, keyword_params

with job(snakemake) as log:
    log.info("%d raw files match SHA256SUMS", verify_checksums(snakemake.input[0]))
    summary = derive_superni(Path(snakemake.input[0]), Path(snakemake.output[0]), **keyword_params(snakemake))
    log.info("%s", summary)
