"""Sessions of sendmail's MSP queue runner (`sm-msp-queue`, submit.cf, FEATURE(`msp'))
are judged by no TLS rule of the spec: submit.cf reads no access map. The same lines
of the MTA (`sm-mta`) are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

LINES = """\
Apr 09 09:29:47 mx1 {tag}[15093]: STARTTLS=client, relay=csf-mail.rl.ac.uk, version=TLSv1.2,\
 verify=FAIL, cipher=ECDHE-RSA-AES256-GCM-SHA384, bits=256/256
Apr 09 09:29:47 mx1 {tag}[15093]: 0397TlbO013757: to=postmaster, delay=00:59:33,\
 xdelay=00:00:00, mailer=relay, pri=229690, relay=csf-mail.rl.ac.uk [130.246.180.28],\
 dsn=4.7.1, stat=Deferred: 454 4.7.1 Relay access denied
"""
SPEC = """\
version: 1
cluster: test
hosts:
  mx1: {fqdn: mx1.example.net}
domains:
  rl.ac.uk: {outbound: {require: verify}}
"""


@pytest.mark.parametrize(("tag", "sessions"), [("sm-msp-queue", 0), ("sm-mta", 1)])
def test_the_what_if_leaves_the_msp_out(tmp_path: Path, tag: str, sessions: int) -> None:
    log = tmp_path / "mail.log"
    log.write_text(LINES.format(tag=tag))
    spec = tmp_path / "cluster.yaml"
    spec.write_text(SPEC)
    rc, out, err = run_cli("logs", "--year", "2020", "--spec", spec, "--format", "json", log)
    assert rc == 0, err
    doc = json.loads(out)
    stopped = [r for r in doc["rules"] if r["sessions"]]
    assert len(stopped) == sessions, doc
    if sessions:
        assert stopped[0]["key"] == "TLS_Srv:rl.ac.uk"
