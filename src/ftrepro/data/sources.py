"""Where each dataset's raw files come from: the pinned public sources (`hub`), a local mirror
(`local`), or the synthetic generator (`synthetic`).

Every source writes the same files in the release format into the dataset's raw directory
(resources/raw/<dataset>/), plus SHA256SUMS, so a user can see which bytes a run used; every
job that reads raw files checks them against it first (verify_checksums). The
local directory is laid out like `shared/data` (see SOURCES.md there).
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import shutil
import tarfile
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from ftrepro.data.download import DownloadError, auth_headers, download, sha256_of
from ftrepro.data.superni import read_split
from ftrepro.io import DataError, atomic_path

log = logging.getLogger(__name__)

# Raw files of each dataset, relative to the raw root (resources/raw/); superni is a directory.
RAW_FILES: dict[str, list[str]] = {
    "20newsgroups": ["20newsgroups/20news-bydate.tar.gz"],
    "massive": ["massive/en-US.jsonl"],
    "superni": ["superni"],
    "arena": ["arena/train.csv"],
}
CHECKSUMS = "SHA256SUMS"
SUPERNI_SPLITS = tuple(f"splits/default/{s}_tasks.txt" for s in ("train", "test", "excluded"))

# Optional files of a local mirror, copied when present: SuperNI's official test reference file
# (the ids of each test task's 100 test instances) and the arena competition's test.csv.
OPTIONAL_FILES: dict[str, list[str]] = {
    "superni": ["test_references.jsonl"],
    "arena": ["test.csv"],
}

# How to obtain each dataset by hand, quoted in "not found" and download errors.
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


def fetch(
    dataset: str,
    out_dir: Path,
    *,
    source: str,
    local_dir: str | None = None,
    pin: dict | None = None,
    download_dir: str | Path = "resources/downloads",
    seed: int = 42,
    superni_tasks: list[str] | None = None,
    superni_train_tasks: int | None = None,
) -> list[Path]:
    """Write a dataset's raw files into `out_dir` from the configured `data.source`.

    For SuperNI, `superni_tasks` (test task names) and `superni_train_tasks` (the first N train
    tasks; None: all) select the task files; None for both copies a local mirror whole.
    """
    from ftrepro.data.synthetic import PIPELINE_SIZES, write_synthetic_raw

    if dataset not in RAW_FILES:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(RAW_FILES)}")
    selection = {"superni_tasks": superni_tasks, "superni_train_tasks": superni_train_tasks}
    if source == "synthetic":
        test_tasks = {"test_tasks": superni_tasks} if dataset == "superni" else {}
        written = write_synthetic_raw(
            dataset, out_dir, seed=seed, **PIPELINE_SIZES.get(dataset, {}), **test_tasks
        )
    elif source == "local":
        if not local_dir:
            raise ValueError("config key data.local_dir: required when data.source is 'local'")
        written = fetch_local(dataset, Path(local_dir), out_dir, **selection)
    elif source == "hub":
        if not pin:
            raise ValueError(f"config key data.hub.{dataset}: required when data.source is 'hub'")
        try:
            written = fetch_hub(dataset, out_dir, pin=pin, download_dir=Path(download_dir), **selection)
        except DownloadError as e:
            raise DownloadError(
                f"{dataset}: the download from its pinned source (data.hub.{dataset}) failed: {e}. "
                "Without internet, set data.source: local and point data.local_dir at a mirror, "
                f"e.g. --config \"data={{'source': 'local', 'local_dir': 'DIR'}}\" with DIR laid out "
                f"like DIR/{RAW_FILES[dataset][0]} (config/README.md); to get the files, {HOW_TO_GET[dataset]}"
            ) from e
    else:
        raise ValueError(
            f"config key data.source: unknown source {source!r}; expected synthetic, local or hub"
        )
    write_checksums(out_dir)
    return written


def write_checksums(raw_dir: Path) -> Path:
    """SHA256SUMS (the `sha256sum -c` format) of every file under `raw_dir`."""
    raw_dir = Path(raw_dir)
    files = sorted(p for p in raw_dir.rglob("*") if p.is_file() and p.name != CHECKSUMS)
    lines = [f"{sha256_of(p)}  {p.relative_to(raw_dir).as_posix()}\n" for p in files]
    with atomic_path(raw_dir / CHECKSUMS) as tmp:
        tmp.write_text("".join(lines), encoding="utf-8")
    return raw_dir / CHECKSUMS


def verify_checksums(raw_dir: str | Path, files: Iterable[str] | None = None) -> int:
    """Check the files SHA256SUMS lists in `raw_dir` (or only `files`, paths relative to it)
    against the digests written when they were fetched: jobs that read raw files call this, so
    that a file changed or damaged since is never used. A missing list or file or another digest
    raises DataError naming the file and how to fetch it again. Returns the number checked."""
    raw_dir = Path(raw_dir)
    sums, refetch = raw_dir / CHECKSUMS, _refetch_hint(raw_dir)
    if not sums.is_file():
        raise DataError(f"{sums}: missing, so the raw files cannot be checked; {refetch}")
    listed = _read_checksums(sums)
    wanted = listed if files is None else {name: listed.get(name) for name in files}
    for name, digest in wanted.items():
        path = raw_dir / name
        if digest is None:
            raise DataError(f"{path}: not listed in {sums}; {refetch}")
        if not path.is_file():
            raise DataError(f"{path}: listed in {sums} but missing; {refetch}")
        got = sha256_of(path)
        if got != digest:
            raise DataError(
                f"{path}: sha256 {got} is not the {digest} that {sums} recorded when it was fetched: "
                f"the file changed or is damaged; {refetch}"
            )
    return len(wanted)


def _refetch_hint(raw_dir: Path) -> str:
    return (
        f"to fetch it again, delete {raw_dir} and rerun (the download rule writes it anew from data.source)"
    )


def _read_checksums(sums: Path) -> dict[str, str]:
    """{relative path: sha256} of a SHA256SUMS file (`sha256sum` format, as write_checksums writes)."""
    listed = {}
    for lineno, line in enumerate(sums.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        digest, _, name = line.partition("  ")
        if not re.fullmatch(r"[0-9a-f]{64}", digest) or not name:
            raise DataError(
                f"{sums}: line {lineno}: expected '<sha256>  <path>'; {_refetch_hint(sums.parent)}"
            )
        listed[name] = digest
    return listed


# --- local mirror --------------------------------------------------------------------------


def _missing(dataset: str, what: str, searched: Path | list[Path]) -> FileNotFoundError:
    where = " or ".join(str(p) for p in searched) if isinstance(searched, list) else str(searched)
    return FileNotFoundError(
        f"{dataset}: {what} not found (searched {where}); to get it, {HOW_TO_GET[dataset]}, "
        "or set data.source: hub"
    )


def _copy_optional(dataset: str, src: Path, out_dir: Path) -> None:
    """The mirror's OPTIONAL_FILES of `dataset` that it has, into `out_dir` (a .gz is unpacked)."""
    for name in OPTIONAL_FILES.get(dataset, []):
        if (src / name).is_file() or (src / f"{name}.gz").is_file():
            with atomic_path(out_dir / name) as tmp:
                _copy_maybe_gzipped(src / name, tmp)


def _copy_maybe_gzipped(plain: Path, target: Path) -> None:
    """Copy `plain`, or unpack `plain`.gz, to `target`; FileNotFoundError when neither is there."""
    packed = plain.with_name(plain.name + ".gz")
    if plain.is_file():
        shutil.copyfile(plain, target)
    elif packed.is_file():
        with gzip.open(packed, "rb") as fin, open(target, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    else:
        raise FileNotFoundError(f"{plain} or {packed}")


def fetch_local(
    dataset: str,
    local_dir: Path,
    out_dir: Path,
    *,
    superni_tasks: list[str] | None = None,
    superni_train_tasks: int | None = None,
) -> list[Path]:
    """Copy `dataset`'s raw files from `local_dir/<dataset>/` into `out_dir` (its raw directory).

    MASSIVE may be stored gzipped (en-US.jsonl.gz) and is written uncompressed. Returns the
    paths written.
    """
    src, out_dir = Path(local_dir) / dataset, Path(out_dir)
    if dataset == "massive":
        return [_copy_massive(src, out_dir)]
    if dataset == "superni":
        return [_copy_superni(src, out_dir, superni_tasks, superni_train_tasks)]
    name = Path(RAW_FILES[dataset][0]).name
    if not (src / name).is_file():
        raise _missing(dataset, name, src / name)
    _copy_optional(dataset, src, out_dir)
    with atomic_path(out_dir / name) as tmp:
        shutil.copyfile(src / name, tmp)
    return [out_dir / name]


def _copy_massive(src: Path, out_dir: Path) -> Path:
    plain = src / "en-US.jsonl"
    target = out_dir / "en-US.jsonl"
    with atomic_path(target) as tmp:
        try:
            _copy_maybe_gzipped(plain, tmp)
        except FileNotFoundError:
            raise _missing("massive", "en-US.jsonl", [plain, plain.with_suffix(".jsonl.gz")]) from None
    return target


def _copy_superni(src: Path, out_dir: Path, test_tasks: list[str] | None, train_cap: int | None) -> Path:
    tasks = src / "tasks"
    if not tasks.is_dir() or not any(tasks.glob("*.json")):
        raise _missing("superni", "the task files tasks/*.json", tasks)
    for split in SUPERNI_SPLITS:
        if not (src / split).is_file():
            raise _missing("superni", split, src / split)
    with atomic_path(out_dir) as tmp:
        for split in SUPERNI_SPLITS:
            (tmp / split).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / split, tmp / split)
        _copy_optional("superni", src, tmp)
        if test_tasks is None and train_cap is None:
            shutil.copytree(tasks, tmp / "tasks")
        else:
            (tmp / "tasks").mkdir()
            for name in superni_task_files(tmp, test_tasks or [], train_cap):
                if not (src / name).is_file():
                    raise _missing("superni", name, src / name)
                shutil.copyfile(src / name, tmp / name)
    return out_dir


def superni_task_files(raw_dir: Path, test_tasks: list[str], train_cap: int | None) -> list[str]:
    """tasks/<name>.json of the chosen test tasks and the first `train_cap` train tasks (None:
    all), in the order of splits/default/train_tasks.txt."""
    names = list(test_tasks) + read_split(raw_dir, "train")[:train_cap]
    return [f"tasks/{name}.json" for name in dict.fromkeys(names)]


# --- pinned public sources -----------------------------------------------------------------


def fetch_hub(
    dataset: str,
    out_dir: Path,
    *,
    pin: dict,
    download_dir: Path,
    superni_tasks: list[str] | None = None,
    superni_train_tasks: int | None = None,
) -> list[Path]:
    """Download `dataset` from its pinned source (config `data.hub.<dataset>`) into `out_dir`.

    Downloads land in `download_dir/<dataset>/<revision>/`, outside the job's output, so a
    failed job resumes them; `out_dir` gets hard links (copies across file systems).
    """
    cache = Path(download_dir) / dataset / (pin.get("revision") or "pinned")
    headers = auth_headers(pin.get("token_env"))
    if dataset == "massive":
        return [_massive_from_archive(pin, cache, headers, Path(out_dir))]
    if dataset == "superni":
        return [
            _superni_from_repo(pin, cache, headers, Path(out_dir), superni_tasks or [], superni_train_tasks)
        ]
    name = Path(RAW_FILES[dataset][0]).name
    got = download(pin_url(pin), cache / name, sha256=pin.get("sha256"), headers=headers)
    with atomic_path(Path(out_dir) / name) as tmp:
        _link_or_copy(got, tmp)
    return [Path(out_dir) / name]


def pin_url(pin: dict, path: str = "") -> str:
    """The pin's URL with `{revision}` and `{path}` filled in."""
    return pin["url"].format(revision=pin.get("revision") or "", path=path)


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def _massive_from_archive(pin: dict, cache: Path, headers: dict, out_dir: Path) -> Path:
    """The release tarball has no published checksum; the pinned sha256 is the member's."""
    archive = download(pin_url(pin), cache / Path(pin["url"]).name, headers=headers)
    target = out_dir / Path(pin["member"]).name
    with atomic_path(target) as tmp:
        try:
            with tarfile.open(archive, "r:*") as tar:
                member = tar.extractfile(pin["member"])
                with open(tmp, "wb") as f:
                    shutil.copyfileobj(member, f)
        except KeyError as e:
            raise DataError(
                f"{archive}: member {pin['member']!r} (config data.hub.massive.member) not in the archive"
            ) from e
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
            raise DataError(
                f"{archive}: not a readable tar archive ({e}); delete it to download it again"
            ) from e
        got = sha256_of(tmp)
        if pin.get("sha256") and got != pin["sha256"]:
            raise DataError(
                f"{archive}: member {pin['member']}: checksum mismatch: sha256 {got}, pinned "
                f"{pin['sha256']} (config data.hub.massive.sha256)"
            )
    return target


def _superni_from_repo(
    pin: dict, cache: Path, headers: dict, out_dir: Path, test_tasks: list[str], train_cap: int | None
) -> Path:
    """The split lists, then the task files the run needs, from the repository at the pinned commit.

    The commit pins every file's content; split lists may also carry sha256 pins.
    """
    pinned = pin.get("sha256") or {}
    for split in SUPERNI_SPLITS:
        download(
            pin_url(pin, split), cache / split, sha256=pinned.get(split), headers=headers, progress=False
        )
    names = superni_task_files(cache, test_tasks, train_cap)
    _download_all(pin, cache, headers, names)
    with atomic_path(out_dir) as tmp:
        for name in [*SUPERNI_SPLITS, *names]:
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(cache / name, tmp / name)
    return out_dir


def _download_all(pin: dict, cache: Path, headers: dict, names: Iterable[str], workers: int = 8) -> None:
    """Many small files: a few at a time, one progress bar over files."""
    names = list(names)

    def one(name: str) -> Path:
        return download(
            pin_url(pin, name),
            cache / name,
            sha256=(pin.get("sha256") or {}).get(name),
            headers=headers,
            progress=False,
        )

    with ThreadPoolExecutor(workers) as pool:
        for _ in tqdm(pool.map(one, names), total=len(names), unit="file", desc="superni tasks"):
            pass
