"""LLM property ratings of a seeded sample of arena train rows (band2025), resumable; or a supplied file."""

from ftrepro.infer.api import make_client
from ftrepro.papers.band2025.annotate import (
    ApiAnnotator,
    LocalAnnotator,
    annotate_rows,
    select_rows,
    use_supplied_annotations,
)
from ftrepro.workflow import api_settings, fingerprint, job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    settings, spec = sm.params.annotation, sm.params.spec
    if settings["file"]:
        n = use_supplied_annotations(sm.input.supplied[0], sm.input.train, sm.output[0])
        log.info("%d supplied annotations from %s", n, settings["file"])
    else:
        if "api" in spec:
            annotator = ApiAnnotator(
                make_client(api_settings(sm)),
                spec["api"],
                attempts=settings["attempts"],
                temperature=settings["temperature"],
                max_tokens=settings["max_tokens"],
                json_mode=settings["json_mode"],
                max_chars=settings["max_chars"],
            )
        else:
            annotator = LocalAnnotator(sm.input.model[0], max_chars=settings["max_chars"])
        rows = select_rows(sm.input.train, sm.params.rows, settings["seed"])
        counts = annotate_rows(
            rows, annotator, sm.output[0], work_dir=sm.params.work_dir, fingerprint=fingerprint(sm)
        )
        log.info("annotated %d rows: %s", len(rows), counts)
