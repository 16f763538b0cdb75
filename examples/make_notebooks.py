"""Regenerate the example notebooks from their plain-script sources, executed.

Every ``examples/NAME.py`` that starts with a jupytext header (percent format: cells
separated by ``# %%``) is the source of ``examples/NAME.ipynb``. This script converts it with
jupytext, runs it top to bottom with nbclient in ``examples/``, and writes the notebook with its
outputs (the docs show them; Sphinx never executes notebooks). Run it after editing a script:

    BAYESFM_DATA=../shared/data .venv/bin/python examples/make_notebooks.py            # all
    BAYESFM_DATA=../shared/data .venv/bin/python examples/make_notebooks.py quickstart

``--text-only`` copies edited markdown cells into the stored notebooks without executing them
(refused when a code cell changed). ``--check`` executes nothing and exits 1 when a
notebook's cells differ from its script (the test suite runs the same check). Needs the
``dev`` extra (jupytext, nbclient, ipykernel).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def paired_scripts(folder: Path = HERE) -> list[Path]:
    """Scripts in ``folder`` that are jupytext notebooks (their header names jupytext)."""
    return sorted(
        p for p in folder.glob("*.py")
        if "jupytext:" in p.read_text(encoding="utf-8")[:600]
    )


def cell_sources(nb) -> list[tuple[str, str]]:
    """The (cell type, source) pairs of a notebook: what must agree with the script."""
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def out_of_sync(script: Path) -> str | None:
    """Why ``script`` and its notebook disagree, or None when they hold the same cells."""
    import jupytext
    import nbformat

    ipynb = script.with_suffix(".ipynb")
    if not ipynb.exists():
        return f"{ipynb.name} is missing"
    want = cell_sources(jupytext.read(script))
    have = cell_sources(nbformat.read(ipynb, as_version=4))
    if want != have:
        for i, (a, b) in enumerate(zip(want, have, strict=False)):
            if a != b:
                return f"{ipynb.name}: cell {i} differs from {script.name}"
        return f"{ipynb.name} has {len(have)} cells, {script.name} has {len(want)}"
    return None


def kernel_env(**extra: str) -> dict[str, str]:
    """The kernel's environment: ours, with figures drawn inline (not by a headless backend)."""
    env = dict(os.environ)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env.update(extra)
    return env


def execute(nb, cwd: Path, timeout: int = 1800, **env: str):
    """Run every cell of ``nb`` in a fresh kernel started in ``cwd``; raise on an error."""
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    return client.execute(env=kernel_env(**env))


def build(script: Path, timeout: int = 1800) -> None:
    """Convert ``script`` to a notebook, execute it and write ``NAME.ipynb`` beside it."""
    import jupytext
    import nbformat

    nb = jupytext.read(script)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    t0 = time.perf_counter()
    execute(nb, script.parent, timeout)
    for cell in nb.cells:
        # Timestamps would make every rebuild a diff.
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, script.with_suffix(".ipynb"))
    size = script.with_suffix(".ipynb").stat().st_size / 1024
    print(f"{script.name}: executed in {time.perf_counter() - t0:.0f} s, {size:.0f} KiB")


def update_text(script: Path) -> None:
    """Copy the markdown cells of ``script`` into its executed notebook, executing nothing.

    For prose edits after a long run on real data: the stored outputs stay valid only while
    every code cell is unchanged, so a notebook whose code differs is refused (rebuild it).
    """
    import jupytext
    import nbformat

    ipynb = script.with_suffix(".ipynb")
    want = jupytext.read(script)
    have = nbformat.read(ipynb, as_version=4)
    kinds = [c.cell_type for c in want.cells] == [c.cell_type for c in have.cells]
    same_code = kinds and all(
        a.source.strip() == b.source.strip()
        for a, b in zip(want.cells, have.cells, strict=True) if a.cell_type == "code")
    if not same_code:
        raise SystemExit(f"{script.name}: code cells differ from {ipynb.name}; rebuild it "
                         "(without --text-only)")
    for a, b in zip(want.cells, have.cells, strict=True):
        if a.cell_type == "markdown":
            b.source = a.source
    nbformat.write(have, ipynb)
    print(f"{ipynb.name}: markdown updated from {script.name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks to build (default: all)")
    parser.add_argument("--check", action="store_true",
                        help="only check that every notebook matches its script")
    parser.add_argument("--text-only", action="store_true",
                        help="copy edited markdown cells into the executed notebooks, keeping "
                             "their outputs (refused when a code cell changed)")
    args = parser.parse_args(argv)
    scripts = paired_scripts()
    if args.names:
        known = {p.stem: p for p in scripts}
        unknown = [n for n in args.names if n not in known]
        if unknown:
            parser.error(f"no jupytext script named {unknown}; known: {sorted(known)}")
        scripts = [known[n] for n in args.names]
    if args.check:
        problems = [msg for s in scripts if (msg := out_of_sync(s))]
        for msg in problems:
            print(msg, file=sys.stderr)
        return 1 if problems else 0
    for script in scripts:
        if args.text_only:
            update_text(script)
        else:
            build(script)
    return 0


if __name__ == "__main__":
    sys.exit(main())
