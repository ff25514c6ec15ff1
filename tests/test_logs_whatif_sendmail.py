"""The what-if on a real sendmail's lines, and what sendmail then really does.

Daemon A relays to daemon B (tests/test_rules_sendmail.py's pair), whose
certificate A cannot verify. Without a rule A sends; the what-if of A's log
with `'127.0.0.1': {outbound: verify}` proposed says that mail would have
been deferred. Then A runs with that rule, defers for real, and the what-if
of the new log, judging the rule now in A's spec, says the same of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sendmail_fixture import DaemonFactory, SendmailDaemon, sendmail_daemon, throwaway_ca
from test_logs_sendmail import as_syslog_file
from test_rules_sendmail import GUARDED, SENDER, pair, rules, send, status
from throwaway_ca import ThrowawayCA

from compiler.cli import main

__all__ = ["sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

pytestmark = pytest.mark.realtools

VERIFY_127 = "'127.0.0.1': {outbound: verify}"


def whatif(daemon: SendmailDaemon, tmp_path: Path, *proposals: str) -> dict[str, Any]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    log = tmp_path / f"{daemon.fqdn}.log"
    log.write_text(as_syslog_file(daemon), encoding="utf-8")
    args = ["logs", str(log), "--spec", str(daemon.spec_path), "--format", "json"]
    for p in proposals:
        args += ["--propose", p]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    assert data["unknown_hosts"] == []  # the log's host is the spec's host
    return data


def test_the_what_if_predicts_the_deferral_sendmail_then_makes(
    sendmail_daemon: DaemonFactory, tmp_path: Path
) -> None:
    other = ThrowawayCA("Other CA")
    a, b = pair(sendmail_daemon, rules(domains={}), b_ca=other)
    send(a, GUARDED)
    assert status(a, GUARDED).startswith("Sent (")  # no rule: any certificate will do
    b.wait_for_log(rf"from=<{SENDER}>, .*proto=ESMTPS, ")

    (proposed,) = whatif(a, tmp_path / "before", VERIFY_127)["proposed"]
    assert (proposed["key"], proposed["value"]) == ("TLS_Srv:127.0.0.1", "VERIFY")
    assert proposed["stopped"] == {"sessions": 1, "messages": 1, "deferred": 1, "refused": 0}
    assert proposed["reasons"] == {"not_verified": 1}
    assert [p["peer"] for p in proposed["peers"]] == ["[127.0.0.1]"]
    assert proposed["recipients"] == [{"address": GUARDED, "messages": 1}]
    assert proposed["senders"] == [{"address": SENDER, "messages": 1}]
    # encrypt asks no more than the session had: nothing stopped, nothing safe to tighten
    (encrypt,) = whatif(a, tmp_path / "before", "'*': {outbound: encrypt}")["proposed"]
    assert (encrypt["key"], encrypt["sessions"]) == ("TLS_Srv:", 1)
    assert encrypt["stopped"]["messages"] == 0
    assert encrypt["safe_to_tighten"] == []  # verify=FAIL
    # B's side: A came in over TLS 1.3 with 256 bits; 512 would have been too few
    (inbound,) = whatif(
        b, tmp_path / "before", "'127.0.0.1': {inbound: {require: encrypt, min_bits: 512}}"
    )["proposed"]
    assert (inbound["key"], inbound["direction"]) == ("TLS_Clt:127.0.0.1", "inbound")
    assert inbound["stopped"]["deferred"] == 1
    assert inbound["reasons"] == {"too_weak": 1}

    # now for real: A with the rule defers that mail, and the what-if agrees
    a2, _b2 = pair(
        sendmail_daemon, rules(domains={"127.0.0.1": {"outbound": "verify"}}), b_ca=other
    )
    send(a2, GUARDED)
    assert status(a2, GUARDED) == "Deferred: 454 4.7.0 authentication failed"
    data = whatif(a2, tmp_path / "after")
    rule = next(r for r in data["rules"] if r["key"] == "TLS_Srv:127.0.0.1")
    assert rule["value"] == "VERIFY"
    assert rule["stopped"] == {"sessions": 1, "messages": 1, "deferred": 1, "refused": 0}
    assert rule["reasons"] == {"not_verified": 1}
