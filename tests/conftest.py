import atexit
import os
import shutil
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")
# Nearly every test fits a model, and each fit compiles its sampler again (a new kernel is a
# new function to XLA): 2-5 s of XLA time for a 40-row fit that then runs in 0.1 s. JAX's
# persistent compilation cache turns a repeat of the same program into a 0.5 s load, which
# roughly halves the suite. Each pytest process (every xdist worker, and the notebooks and
# command-line runs it starts) gets a cache folder of its own, made for this session and
# removed at its end: a cache shared by concurrent processes once crashed a worker.
# (xdist workers inherit the controller's environment, so the folder is made here, in every
# process that loads this file, never taken from the environment.) BAYESFM_JAX_CACHE=0 still
# turns the cache off.
if os.environ.get("BAYESFM_JAX_CACHE") != "0":
    _worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    _cache = tempfile.mkdtemp(prefix=f"bayesfm-test-jax-{_worker}-")
    os.environ["BAYESFM_CACHE_DIR"] = _cache
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)

import pytest  # noqa: E402

from bayesfm.engines import enable_compilation_cache  # noqa: E402

enable_compilation_cache()


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run tests marked slow (real data, long statistical checks)")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    _name_load_groups(config, items)
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def x64():
    """Run a test with JAX in float64, restoring the previous setting afterwards."""
    import jax

    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


def _name_load_groups(config, items):
    """Give every test its load group in its id, as ``--dist loadgroup`` expects.

    The group is the test's ``xdist_group`` mark, else, for a test that uses a module-scoped
    fixture of its own module (most are fits shared by the module's tests), the module: its
    tests then run on one worker, which makes the fixture once. Tests without either are
    scheduled one by one.

    pytest-xdist 3.8 appends ``@<group>`` to ``item._nodeid``, which pytest 9 no longer reads
    (a node's id is ``item._id``), so its marks were silently ignored: the tests of a group
    ran on both workers and a group's module-scoped fits (the Gibbs SBC replications, the
    recovery fits) were computed on each. Runs last; an id that already has the suffix
    (pytest 8, where xdist's own renaming works) is left alone.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        if not names and _uses_a_module_fixture_of_its_module(item):
            names = [item.nodeid.split("::")[0]]
        if not names:
            names = _param_group(item)
        if names and "@" not in item.nodeid and hasattr(item, "_id"):
            item._id = type(item._id).parse(f"{item.nodeid}@{'_'.join(names)}")


def _param_group(item) -> list[str]:
    """The group a module asks for by one parameter's type (``LOAD_GROUP_BY_PARAM``).

    scikit-learn's ``parametrize_with_checks`` yields ~60 checks per estimator, each fitting
    small designs of its own shapes; run on both workers, each worker compiled the same
    programs (its persistent cache is its own). Grouping a module's tests by the estimator
    they check keeps one estimator's programs on one worker.
    """
    param = getattr(getattr(item, "module", None), "LOAD_GROUP_BY_PARAM", None)
    callspec = getattr(item, "callspec", None)
    if param is None or callspec is None or param not in callspec.params:
        return []
    return [f"{item.nodeid.split('::')[0]}:{type(callspec.params[param]).__name__}"]


def _uses_a_module_fixture_of_its_module(item) -> bool:
    module = item.nodeid.split("::")[0]
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info is not None else ()
    return any(d.scope == "module" and d.baseid == module for ds in defs for d in ds)
