"""Raw files of one dataset, in its real format, from the configured source; the rule's params are
fetch's keyword arguments."""

from pathlib import Path

from ftrepro.data.sources import fetch
from ftrepro.workflow import job, keyword_params

with job(snakemake) as log:
    dataset, params = snakemake.wildcards.dataset, keyword_params(snakemake)
    log.info("%s from %s", dataset, params["source"])
    fetch(dataset, Path(snakemake.output[0]), **params)
