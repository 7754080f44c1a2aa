"""zhao2025 prompts through an OpenAI-compatible chat API (the GPT rows of Table 3)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ftrepro.fit import prepare_work_dir
from ftrepro.infer.api import chat_many, make_client
from ftrepro.io import write_jsonl
from ftrepro.papers.zhao2025.prompts import prediction_record


def predict_api(
    examples: Sequence[Mapping],
    labels: Mapping,
    model_id: str,
    settings: Mapping[str, Any],
    out_path: str | Path,
    *,
    work_dir: str | Path,
    fingerprint: dict,
) -> list[dict]:
    """Write the prediction records of ``examples`` (ftrepro.papers.zhao2025.prompts) answered by ``model_id``.

    Answers collect in ``work_dir`` (resumed when its fingerprint matches, ftrepro.fit); the
    directory is dropped once ``out_path`` is written.
    """
    work_dir = Path(work_dir)
    prepare_work_dir(work_dir, fingerprint)
    answers = chat_many(
        make_client(settings),
        model_id,
        {ex["id"]: ex["messages"] for ex in examples},
        work_dir / "answers.partial.jsonl",
        max_concurrency=settings["max_concurrency"],
        max_tokens=settings["max_tokens"],
    )
    records = [
        prediction_record(ex, answers[ex["id"]]["output"], labels, answers[ex["id"]]["too_long"])
        for ex in examples
    ]
    write_jsonl(out_path, records)
    shutil.rmtree(work_dir)
    return records
