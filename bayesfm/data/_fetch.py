"""Where the benchmark sets are found, and how they are downloaded when they are not.

A loader looks, in order, in ``path=``, in the folder named by the environment variable
``BAYESFM_DATA``, in the cache ``~/.cache/bayesfm``, and finally downloads the publisher's
copy into that cache (atomically: a partial file never takes its name).
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["GROUPLENS", "ML1M_HALF_ROWS", "NFM_FRAPPE", "cache_dir"]

GROUPLENS = "https://files.grouplens.org/datasets/movielens/"
NFM_FRAPPE = (
    "https://raw.githubusercontent.com/hexiangnan/neural_factorization_machine/master/data/frappe/"
)
ML1M_HALF_ROWS = 487_515  # ratings of users 1-2998: the first lines of ml-1m/ratings.dat


def cache_dir() -> Path:
    """Folder where downloads are kept: ``~/.cache/bayesfm``."""
    return Path.home() / ".cache" / "bayesfm"


def _how_to_get(title: str, folder: str, source: str) -> str:
    return (
        f"To use {title}, get it from {source}, put it in a folder named {folder!r}, and set "
        f"the environment variable BAYESFM_DATA to the folder that holds {folder!r} (or pass "
        "path=...)."
    )


def _locate(
    folder: str,
    required: Sequence[str],
    path: str | os.PathLike[str] | None,
    download: bool,
    fetch: Callable[[Path], None] | None,
    help_text: str,
) -> Path:
    """Return the folder holding every file in ``required``, downloading it if allowed."""

    def complete(d: Path) -> bool:
        return all((d / f).is_file() for f in required)

    if path is not None:
        root = Path(path)
        for d in (root / folder, root):
            if complete(d):
                return d
        raise FileNotFoundError(
            f"{list(required)} not found in {str(root / folder)!r} or {str(root)!r}. {help_text}"
        )
    looked = []
    env = os.environ.get("BAYESFM_DATA")
    if env:
        looked.append(str(Path(env) / folder))
        if complete(Path(env) / folder):
            return Path(env) / folder
    cached = cache_dir() / folder
    looked.append(str(cached))
    if complete(cached):
        return cached
    if not download or fetch is None:
        raise FileNotFoundError(f"data not found (looked in {looked}). {help_text}")
    try:
        fetch(cached)
    except (urllib.error.URLError, OSError, zipfile.BadZipFile) as err:
        raise FileNotFoundError(
            f"data not found (looked in {looked}) and the download failed ({err}). {help_text}"
        ) from err
    if not complete(cached):  # pragma: no cover - a changed upstream archive
        raise FileNotFoundError(f"the download did not provide {list(required)}. {help_text}")
    return cached


def _download(url: str, dest: Path) -> None:
    """Fetch ``url`` into ``dest`` atomically (a partial file never takes its name)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as fh:
            shutil.copyfileobj(response, fh)
        part.replace(dest)
    finally:
        part.unlink(missing_ok=True)


def _fetch_ml100k(dest: Path) -> None:
    archive = dest.parent / "ml-100k.zip"
    _download(GROUPLENS + "ml-100k.zip", archive)
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        for member in zf.namelist():
            name = member.split("/")[-1]
            if member.startswith("ml-100k/") and name and name not in ("..", "."):
                (dest / name).write_bytes(zf.read(member))
    archive.unlink()


def _fetch_ml1m_half(dest: Path) -> None:
    archive = dest.parent / "ml-1m.zip"
    _download(GROUPLENS + "ml-1m.zip", archive)
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        ratings = zf.read("ml-1m/ratings.dat").decode("latin-1").splitlines(keepends=True)
        (dest / "ratings.dat").write_text("".join(ratings[:ML1M_HALF_ROWS]), encoding="latin-1")
        for name in ("users.dat", "movies.dat"):
            (dest / name).write_bytes(zf.read(f"ml-1m/{name}"))
        (dest / "README.grouplens").write_bytes(zf.read("ml-1m/README"))
    archive.unlink()


def _fetch_frappe(dest: Path) -> None:
    for name in ("frappe.validation.libfm", "frappe.test.libfm"):
        _download(NFM_FRAPPE + name, dest / name)
