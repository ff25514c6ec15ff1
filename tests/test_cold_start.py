"""What each command's start path loads, and the start-up helpers behind it.

A cold `tlsc validate` is mostly imports (bench/scale_bench.py --only cold
prints the figures; nothing here times anything). These tests pin which heavy
modules each command's start path may load, so a stray top-level import shows
up as a failure instead of as a slower pre-commit hook.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from typing import Any

import pytest
from conftest import ROOT, cli_env

from compiler.gcpause import gc_importing, gc_paused

EXAMPLE = "examples/canit-cluster.yaml"
SMALL_MC = "tests/golden/canit-cluster/colo10/etc/mail/sendmail.mc"

#: the modules a run of the `tlsc` command (compiler/entry.py) reports as loaded
_RUN = """
import sys
sys.argv = ["tlsc", *sys.argv[1:]]
from compiler.entry import main
try:
    main()
except SystemExit as exc:
    code = exc.code
modules = sorted(sys.modules)
loader = sys.modules.get("pydantic.plugin._loader")
import json
print(json.dumps({
    "code": code,
    "modules": modules,
    "loader": loader and loader.get_plugins.__module__,
}))
"""


def _run(*args: str) -> tuple[int, set[str], str | None]:
    """(exit code, the modules loaded, the module pydantic's get_plugins comes from)."""
    import json

    proc = subprocess.run(
        [sys.executable, "-c", _RUN, *args],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    last = proc.stdout.strip().splitlines()[-1]
    report = json.loads(last)
    return report["code"], set(report["modules"]), report["loader"]


#: never on any of the start paths below: pydantic's plugin scan (importlib.metadata
#: and, through it, email and zipfile), the certificate parser, doctor and verify,
#: the reference diff the tests use, rich
_NEVER = {
    "importlib.metadata",
    "email",
    "zipfile",
    "cryptography",
    "compiler.doctor",
    "compiler.probe",
    "deepdiff",
    "rich",
}


#: a plain command line of these is read without click (compiler/entry.py)
_CLICK = {"click", "compiler.cli"}


def _loaded(modules: set[str], names: set[str]) -> list[str]:
    return sorted(n for n in names if n in modules)


def test_lint_of_one_file_loads_no_spec_code() -> None:
    """The pre-commit hook's path: no pydantic, no YAML, no spec models."""
    code, modules, _ = _run("lint", SMALL_MC)
    assert code == 0
    assert "compiler.lint.engine" in modules  # it did lint
    heavy = _NEVER | {"pydantic", "pydantic_core", "ruamel.yaml", "compiler.spec.model", "json"}
    heavy |= _CLICK
    assert _loaded(modules, heavy) == []


def test_validate_loads_no_renderer_and_no_plan_code() -> None:
    code, modules, loader = _run("validate", EXAMPLE)
    assert code == 0
    assert "compiler.spec.model" in modules  # it did validate
    heavy = _NEVER | {"compiler.render", "compiler.plan", "subprocess", "difflib", "json"}
    # a small spec of the plain shape: no YAML library, no big spec's fast paths
    heavy |= {"ruamel.yaml", "compiler.spec.rulemap", "compiler.spec.accesslist", *_CLICK}
    assert _loaded(modules, heavy) == []
    assert loader == "compiler.spec.noplugins"


def test_plan_of_the_example_loads_no_git_and_no_plugin_scan() -> None:
    """Nor the m4 lexer: its hosts have no submit.mc whose includes plan would read."""
    code, modules, loader = _run("plan", EXAMPLE, "--state", "examples/sandbox")
    assert code == 0
    assert "compiler.plan.make" in modules
    heavy = _NEVER | {"subprocess", "compiler.lint.lexer", "ruamel.yaml", *_CLICK}
    assert _loaded(modules, heavy) == []
    assert loader == "compiler.spec.noplugins"


_VALIDATES = (
    "assert compiler.spec.model.Cluster.model_validate({'version': 1, 'cluster': 'c',"
    " 'hosts': {'mx1': {'fqdn': 'mx1.example.net'}}}).cluster == 'c'\n"
)


def test_tlsc_as_a_library_keeps_pydantics_plugin_loader() -> None:
    """Only the `tlsc` command leaves pydantic's plugins out; importing its models does not."""
    code = (
        "import compiler.spec.model, sys\n"
        + _VALIDATES
        + "assert hasattr(sys.modules['pydantic.plugin._loader'], 'entry_points')\n"
        "print('ok')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=cli_env(), capture_output=True, text=True
    )
    assert proc.stdout.strip() == "ok", proc.stderr


def test_pydantics_own_loader_is_left_alone_when_loaded_first() -> None:
    """Code that loaded pydantic's plugin loader itself keeps it (and its plugins)."""
    code = (
        "import pydantic.plugin._loader as real\n"
        "from compiler.spec import noplugins\n"
        "noplugins.install()\n"
        "import compiler.spec.model, sys\n"
        "assert sys.modules['pydantic.plugin._loader'] is real\n" + _VALIDATES + "print('ok')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=cli_env(), capture_output=True, text=True
    )
    assert proc.stdout.strip() == "ok", proc.stderr


def test_the_no_plugin_loader_finds_no_plugins() -> None:
    """What pydantic's loader answers under PYDANTIC_DISABLE_PLUGINS=__all__."""
    from compiler.spec import noplugins

    assert list(noplugins.get_plugins()) == []


def _cycle() -> list[object]:
    box: list[object] = []
    box.append(box)
    return box


@pytest.mark.parametrize("pause", [gc_importing, gc_paused])
def test_gc_importing_pauses_the_collector_and_leaves_no_young_objects(pause: Any) -> None:
    if gc.get_freeze_count():
        pytest.skip("something in this process holds frozen objects")
    assert gc.isenabled()
    with pause():
        assert not gc.isenabled()
        made = [_cycle() for _ in range(5000)]  # young objects, as an import makes
        assert gc.get_count()[0] >= 5000
    assert gc.isenabled()
    oldest = {id(obj) for obj in gc.get_objects(generation=2)}
    assert all(id(box) in oldest for box in made)  # moved there, not scanned on the way
    assert gc.get_freeze_count() == 0  # nothing left frozen
    assert all(gc.is_tracked(box) for box in made)  # still in the collector's care
    del made
    assert gc.collect() >= 5000  # and collected as garbage once dropped


def test_gc_importing_leaves_someone_elses_freeze_alone() -> None:
    if gc.get_freeze_count():
        pytest.skip("something in this process holds frozen objects")
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with gc_importing():
            _cycle()
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_gc_importing_keeps_a_paused_collector_paused() -> None:
    gc.disable()
    try:
        with gc_importing():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_name_the_stand_in_lacks_comes_from_pydantics_own_loader() -> None:
    """A later pydantic that imports more than get_plugins from its loader still works."""
    code = (
        "import sys\n"
        "from compiler.spec import noplugins\n"
        "noplugins.install()\n"
        "from pydantic.plugin._loader import get_plugins\n"
        "assert get_plugins is noplugins.get_plugins\n"
        "from pydantic.plugin._loader import _plugins\n"  # a name only pydantic's has
        "print(hasattr(sys.modules[noplugins.LOADER], '__file__'), type(_plugins).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    assert out == ["True", "NoneType"]  # pydantic's own module now: no plugins loaded yet
