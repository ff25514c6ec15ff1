"""Property: for generated valid specs, compile -> import -> compile is a fixed point.

The same access map (as makemap reads it) and, built with real m4, the same
sendmail.cf options, maps, mailers and rulesets (the importer's own check).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from import_helpers import messages, write_tree
from test_properties import specs

from compiler.compile import compile_text
from compiler.importer.host import import_host
from compiler.importer.roundtrip import access_map
from compiler.resolve import resolve
from compiler.spec.loader import load_text
from compiler.spec.validate import validate


def _view(text: str) -> dict[str, str]:
    return {k: e.value for k, e in access_map(text).items()}


@pytest.mark.realtools
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI must not flake
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,  # most generated specs are invalid or move paths
    ],
)
@given(specs(clean=True))
def test_compile_import_compile_is_a_fixed_point(data: dict[str, Any]) -> None:
    text = json.dumps(data)
    compiled = compile_text(text)
    assume(compiled.ok)
    checked = validate(load_text(text))
    assert checked.cluster is not None
    host = sorted(compiled.hosts)[0]
    settings_ = resolve(checked.cluster, host).settings
    assume(settings_.paths.sendmail_mc == "/etc/mail/sendmail.mc")
    files = compiled.hosts[host]
    with tempfile.TemporaryDirectory() as tmp:
        write_tree(Path(tmp), dict(files))
        result = import_host(tmp, host, checked.cluster.hosts[host].fqdn, data["cluster"])
    assert not result.notes.errors and not result.notes.losses, messages(result)
    assert result.summary[-1] == "sendmail.cf: same options, maps, mailers and rulesets"
    assert result.text is not None
    again = compile_text(result.text)
    assert again.ok, [p.message for p in again.problems]
    twice = again.hosts[host]
    assert _view(twice[settings_.paths.access]) == _view(files[settings_.paths.access])
