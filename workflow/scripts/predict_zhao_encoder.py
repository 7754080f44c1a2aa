"""Test-split predictions of a fine-tuned encoder."""

from ftrepro.infer.encoder import predict_encoder
from ftrepro.io import write_jsonl
from ftrepro.workflow import logged

with logged(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    records = predict_encoder(sm.input.model, sm.input.test, batch_size=sm.params.batch_size)
    log.info("%d predictions", write_jsonl(sm.output[0], records))
