"""Where each dataset's raw files come from, and copying them from a local directory.

The local directory is laid out like `shared/data` (see SOURCES.md there): one folder per
dataset holding the files in their original release format.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

from ftrepro.io import atomic_path

# Raw files of each dataset, relative to the raw root (resources/raw/); superni is a directory.
RAW_FILES: dict[str, list[str]] = {
    "20newsgroups": ["20newsgroups/20news-bydate.tar.gz"],
    "massive": ["massive/en-US.jsonl"],
    "superni": ["superni"],
    "arena": ["arena/train.csv"],
}

# How to obtain each dataset by hand, quoted in "not found" errors.
HOW_TO_GET: dict[str, str] = {
    "20newsgroups": "download http://qwone.com/~jason/20Newsgroups/20news-bydate.tar.gz "
                    "(the archive scikit-learn's fetch_20newsgroups uses)",
    "massive": "download https://amazon-massive-nlu-dataset.s3.amazonaws.com/amazon-massive-dataset-1.1.tar.gz "
               "and take member 1.1/data/en-US.jsonl (hub id: AmazonScience/massive)",
    "superni": "clone https://github.com/allenai/natural-instructions and copy its tasks/ and "
               "splits/default/ folders",
    "arena": "download train.csv of the Kaggle competition https://www.kaggle.com/competitions/lmsys-chatbot-arena "
             "(hub id: lmsys/lmsys-arena-human-preference-55k)",
}


def _missing(dataset: str, what: str, searched: Path | list[Path]) -> FileNotFoundError:
    where = " or ".join(str(p) for p in searched) if isinstance(searched, list) else str(searched)
    return FileNotFoundError(f"{dataset}: {what} not found (searched {where}); to get it, {HOW_TO_GET[dataset]}")


def fetch_local(dataset: str, local_dir: Path, out_dir: Path) -> list[Path]:
    """Copy `dataset`'s raw files from `local_dir/<dataset>/` into `out_dir` (its raw directory).

    MASSIVE may be stored gzipped (en-US.jsonl.gz) and is written uncompressed. SuperNI copies
    tasks/ and splits/default/ and replaces `out_dir` as a whole. Returns the paths written.
    """
    if dataset not in RAW_FILES:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(RAW_FILES)}")
    src, out_dir = Path(local_dir) / dataset, Path(out_dir)
    if dataset == "massive":
        return [_fetch_massive(src, out_dir)]
    if dataset == "superni":
        return [_fetch_superni(src, out_dir)]
    name = Path(RAW_FILES[dataset][0]).name
    if not (src / name).is_file():
        raise _missing(dataset, name, src / name)
    with atomic_path(out_dir / name) as tmp:
        shutil.copyfile(src / name, tmp)
    return [out_dir / name]


def _fetch_massive(src: Path, out_dir: Path) -> Path:
    plain, packed = src / "en-US.jsonl", src / "en-US.jsonl.gz"
    target = out_dir / "en-US.jsonl"
    with atomic_path(target) as tmp:
        if plain.is_file():
            shutil.copyfile(plain, tmp)
        elif packed.is_file():
            with gzip.open(packed, "rb") as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        else:
            raise _missing("massive", "en-US.jsonl", [plain, packed])
    return target


def _fetch_superni(src: Path, out_dir: Path) -> Path:
    tasks, splits = src / "tasks", src / "splits" / "default"
    if not tasks.is_dir() or not any(tasks.glob("*.json")):
        raise _missing("superni", "the task files tasks/*.json", tasks)
    for name in ("train_tasks.txt", "test_tasks.txt", "excluded_tasks.txt"):
        if not (splits / name).is_file():
            raise _missing("superni", f"splits/default/{name}", splits / name)
    with atomic_path(out_dir) as tmp:
        shutil.copytree(tasks, tmp / "tasks")
        shutil.copytree(splits, tmp / "splits" / "default")
    return out_dir


def fetch(
    dataset: str,
    out_dir: Path,
    *,
    source: str,
    local_dir: str | None = None,
    seed: int = 42,
    superni_tasks: list[str] | None = None,
) -> list[Path]:
    """Write a dataset's raw files into `out_dir` from the configured `data.source`."""
    from ftrepro.data.synthetic import write_synthetic_raw

    if source == "synthetic":
        sizes = {"test_tasks": superni_tasks} if dataset == "superni" else {}
        return write_synthetic_raw(dataset, out_dir, seed=seed, **sizes)
    if source == "local":
        if not local_dir:
            raise ValueError("config key data.local_dir: required when data.source is 'local'")
        return fetch_local(dataset, Path(local_dir), out_dir)
    raise NotImplementedError(
        f"data.source '{source}' for {dataset}: hub downloads arrive with the data-stage issue; "
        f"until then set data.source: local and data.local_dir to a mirror ({HOW_TO_GET[dataset]})"
    )
