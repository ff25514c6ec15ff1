"""Real sendmail log lines from public sources, as they were posted, and what tlsc makes of them.

Each line's origin is in the comment above it. The reference reader (LogParser)
and the fast one (scan.py) must agree on each; the session reader (what-if,
TLS-RPT) must not take another MTA's lines in the same log for sendmail's.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from test_logs_scan import fast, reference

from compiler.logs.sessions import Session, SessionBuilder
from compiler.logs.syslog import YearGuess, split_syslog

YEARS = YearGuess(date(2020, 12, 31))

#: check_* refusals of real logs whose reply is no TLS reason: never records
NOT_TLS_REFUSALS = [
    # fail2ban/fail2ban fail2ban/tests/files/logs/sendmail-reject: proto.m4's relay refusal
    # when AUTH is compiled in ("Proper authentication required.")
    "Feb 25 03:01:10 kismet sm-acceptingconnections[27713]: s1P819mk027713: ruleset=check_rcpt, "
    "arg1=<asservnew@freemailhost.ru>, relay=128-68-136-133.broadband.corbina.ru "
    "[128.68.136.133], reject=550 5.7.1 <asservnew@freemailhost.ru>... Relaying denied. "
    "Proper authentication required.",
    "Feb 24 07:33:59 petermurray sm-mta[21134]: s1O7XtZJ021134: ruleset=check_rcpt, "
    "arg1=<sanjinn232@yahoo.com.tw>, relay=118-161-66-57.dynamic.hinet.net [118.161.66.57], "
    "reject=550 5.7.1 <sanjinn232@yahoo.com.tw>... Relaying denied. Proper authentication "
    "required.",
    # the same file: forged names, unknown users, DNSBLs, rate control
    "Feb 23 21:36:14 petermurray sm-mta[22248]: s1NLaDQT022248: ruleset=check_rcpt, "
    "arg1=<dautareuk2@hotmail.it>, relay=int0.client.access.azadnet.net [80.253.155.119] "
    "(may be forged), reject=550 5.7.1 <dautareuk2@hotmail.it>... Relaying denied. IP name "
    "possibly forged [80.253.155.119]",
    "Feb 23 07:00:08 petermurray sm-mta[3992]: s1N706jo003992: ruleset=check_rcpt, "
    "arg1=<joaofr@camilopinto.pt>, relay=[151.232.63.226], reject=550 5.7.1 "
    "<joaofr@camilopinto.pt>... Rejected: 151.232.63.226 listed at sbl-xbl.spamhaus.org",
    "Feb 27 15:49:02 batman sm-mta[88377]: s1REn1un088377: ruleset=check_rcpt, "
    "arg1=<non-existing-user@example.com>, relay=189-30-205-74.paebv701.dsl.brasiltelecom.net.br "
    "[189.30.205.74], reject=550 5.1.1 <non-existing-user@example.com>... User unknown",
    "Feb 19 18:01:50 batman sm-mta[78152]: ruleset=check_relay, arg1=[196.213.73.146], "
    "arg2=196.213.73.146, relay=[196.213.73.146], reject=421 4.3.2 Connection rate limit "
    "exceeded.",
    # an Ubuntu Forums thread (sendmail 8.14.4, 2014)
    "Feb 18 12:34:44 server sm-mta[5589]: s1IHYWxQ005589: ruleset=check_rcpt, "
    "arg1=<support@microsoft.com>, relay=[199.87.239.74], reject=550 5.7.1 "
    "<support@microsoft.com>... Relaying denied. IP name lookup failed [199.87.239.74]",
]

#: real lines that are records, and the record (a grok test of sonic.net's hosts, 2012; an
#: Ubuntu Forums thread; wiki.freepascal.org's FreeBSD 8.17 log with a queue id;
#: brandonhutchinson.com's Solaris log)
RECORDS = [
    (
        "Dec  4 10:24:32 c.spam.sonic.net sendmail[32283]: ruleset=tls_server, arg1=SOFTWARE, "
        "relay=goransoncpa-com.mail.eo.outlook.com, reject=403 4.7.0 TLS handshake failed.",
        {
            "kind": "refusal",
            "direction": "client",
            "relay": "goransoncpa-com.mail.eo.outlook.com",
            "ruleset": "tls_server",
            "verify": "SOFTWARE",
            "reply": "403 4.7.0 TLS handshake failed.",
        },
    ),
    (
        "Dec  4 10:24:32 c.spam.sonic.net sendmail[32283]: STARTTLS=client, error: connect "
        "failed=0, SSL_error=5",
        {"kind": "error", "direction": "client", "error": "connect failed=0, SSL_error=5"},
    ),
    (
        "Dec  6 14:06:30 b.mail.sonic.net sm-mta[3306]: STARTTLS=server, relay=[184.21.104.253], "
        "version=TLSv1/SSLv3, verify=NO, cipher=RC4-MD5, bits=128/128",
        {
            "kind": "handshake",
            "direction": "server",
            "addr": "[184.21.104.253]",
            "version": "TLSv1/SSLv3",
            "verify": "NO",
            "cipher": "RC4-MD5",
            "bits": 128,
        },
    ),
    (
        "Jul 14 10:59:17 server sendmail[19538]: STARTTLS=server, relay=localhost.localdomain "
        "[127.0.0.1], version=TLSv1/SSLv3, verify=NOT, cipher=DHE-RSA-AES256-SHA, bits=256/256 ",
        {
            "kind": "handshake",
            "relay": "localhost.localdomain",
            "addr": "[127.0.0.1]",
            "verify": "NOT",
            "bits_max": 256,
        },
    ),
    (
        "Mar 18 16:22:33 shadow sm-mta[66179]: 221820LG031423: STARTTLS=server, "
        "relay=macmini8.example.org [192.168.1.21], version=TLSv1.3, verify=NO, "
        "cipher=TLS_AES_256_GCM_SHA384, bits=256/256",
        {"kind": "handshake", "relay": "macmini8.example.org", "version": "TLSv1.3"},
    ),
    (
        "Jan  2 19:58:51 MTA sm-mta[29534]: [ID 702911 mail.notice] ruleset=tls_server, "
        "arg1=SOFTWARE, relay=MTA, reject=403 4.7.0 TLS handshake failed.",
        {"kind": "refusal", "host": "MTA", "relay": "MTA", "ruleset": "tls_server"},
    ),
]


def _read(tmp_path: Path, lines: list[str]) -> list[dict[str, object]]:
    log = tmp_path / "mail.log"
    log.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    want = reference((str(log),), 200)
    got = fast((str(log),), tmp_path, 200, 1)
    assert got[0] == want[0] and got[2] == want[2]
    return [json.loads(x) for x in want[0].decode().splitlines()]


@pytest.mark.parametrize("line", NOT_TLS_REFUSALS)
def test_real_check_refusals_without_a_tls_reason_are_no_records(tmp_path: Path, line: str) -> None:
    assert _read(tmp_path, [line]) == []


@pytest.mark.parametrize(("line", "fields"), RECORDS)
def test_real_lines_are_the_records_they_log(
    tmp_path: Path, line: str, fields: dict[str, object]
) -> None:
    (record,) = _read(tmp_path, [line])
    assert {k: record.get(k) for k in fields} == fields


#: an Oracle Linux host's /var/log/maillog (2026): sendmail's MSP hands mail to a local postfix,
#: which delivers it; the same file holds both programs' lines
MIXED = """\
May  6 04:34:58 devops-automation-11 postfix/smtp[29920]: C84CE40879DC: to=<mihir.kulkarni@dummy.com>, relay=nlb-rtd2-smtp.oci.dummy.com[104.242.241.27]:587, delay=0.31, delays=0.06/0.02/0.18/0.05, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4g9MxG0YtdzVhjc)
May  6 05:03:16 devops-automation-11 sendmail[48104]: 64653CTR048104: from=root, size=12362438, class=-60, nrcpts=1, msgid=<202605060503.64653CTR048104@devops-automation-11.snta006.ie1vcn013205o2.oraclevcn.com>, relay=root@localhost
May  6 05:03:16 devops-automation-11 postfix/smtpd[48105]: connect from localhost[127.0.0.1]
May  6 05:03:16 devops-automation-11 sendmail[48104]: STARTTLS=client, relay=[127.0.0.1], version=TLSv1.3, verify=FAIL, cipher=TLS_AES_256_GCM_SHA384, bits=256/256
May  6 05:03:16 devops-automation-11 postfix/smtpd[48105]: 8AD3040879DC: client=localhost[127.0.0.1]
May  6 05:03:16 devops-automation-11 sendmail[48104]: 64653CTR048104: to=root, ctladdr=root (0/0), delay=00:00:04, xdelay=00:00:00, mailer=relay, pri=12500438, relay=[127.0.0.1] [127.0.0.1], dsn=2.0.0, stat=Sent (Ok: queued as 8AD3040879DC)
May  6 05:03:16 devops-automation-11 postfix/smtpd[48105]: disconnect from localhost[127.0.0.1] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7
"""  # noqa: E501


def test_postfix_lines_in_the_same_log_are_no_sendmail_sessions() -> None:
    builder = SessionBuilder()
    sessions: list[Session] = []
    for raw in MIXED.splitlines():
        sessions += builder.feed(split_syslog(raw, YEARS))
    sessions += builder.flush()
    assert [(s.direction, s.peer, s.verify, [m.status for m in s.messages]) for s in sessions] == [
        ("client", "[127.0.0.1]", "FAIL", ["Sent"])
    ]


#: one real handshake line (a sendmail 8.17 server on Debian, relay as CurSmtpClient logs it)
HANDSHAKE = (
    "STARTTLS=server, relay=mail-ed1-f49.google.com [209.85.208.49], version=TLSv1.3, "
    "verify=NOT, cipher=TLS_AES_256_GCM_SHA384, bits=256/256"
)

#: one entry of `journalctl -o json` (journalctl 252), the message being HANDSHAKE
JOURNAL_JSON = (
    '{"PRIORITY":"6","SYSLOG_PID":"4242","__CURSOR":"s=1874323fd8984cfbb0537351fb96dd'
    "ba;i=1;b=0123456789abcdef0123456789abcdef;m=5e30a78;t=6617aa278e400;x=5ceaa10cd9"
    'cb3bcd","MESSAGE":"STARTTLS=server, relay=mail-ed1-f49.google.com [209.85.208.49'
    '], version=TLSv1.3, verify=NOT, cipher=TLS_AES_256_GCM_SHA384, bits=256/256","_B'
    'OOT_ID":"0123456789abcdef0123456789abcdef","SYSLOG_IDENTIFIER":"sm-mta","_TRANSP'
    'ORT":"syslog","__MONOTONIC_TIMESTAMP":"98765432","_PID":"4242","_HOSTNAME":"mx1"'
    ',"__REALTIME_TIMESTAMP":"1796029200000000","SYSLOG_FACILITY":"2"}'
)
assert json.loads(JOURNAL_JSON)["MESSAGE"] == HANDSHAKE

#: the prefixes real syslog daemons and journalctl write before it, and the record's time
#: and host (classic stamps read as 2026, as `reference` and `fast` do); each written by
#: the tool named from sendmail's datagram to /dev/log as glibc sends it
#: (`<22>Dec  4 22:50:06 sm-mta[4242]: msg`)
PREFIX_FORMS = [
    # rsyslogd 8.2302 (Debian 12), template RSYSLOG_SyslogProtocol23Format: the message
    # keeps the blank after `sm-mta[4242]:`, so two blanks follow the structured data
    (
        f"<22>1 2026-12-04T22:50:06.700658+00:00 vm sm-mta 4242 - -  {HANDSHAKE}",
        "2026-12-04T22:50:06.700658+00:00",
        "vm",
    ),
    # RFC 5424 6.4: a UTF-8 message may start with a BOM
    (
        f"<22>1 2026-12-04T22:50:06.700658+00:00 vm sm-mta 4242 - - \ufeff{HANDSHAKE}",
        "2026-12-04T22:50:06.700658+00:00",
        "vm",
    ),
    # FreeBSD syslogd -O rfc5424 (fprintlog_rfc5424: one blank, microseconds, `+01:00`)
    (
        f"<22>1 2026-11-30T10:00:00.123456+01:00 mx1 sm-mta 4242 - - {HANDSHAKE}",
        "2026-11-30T10:00:00.123456+01:00",
        "mx1",
    ),
    # rsyslogd 8.2302, RSYSLOG_FileFormat and RSYSLOG_TraditionalFileFormat
    (
        f"2026-12-04T22:50:06.700658+00:00 vm sm-mta[4242]: {HANDSHAKE}",
        "2026-12-04T22:50:06.700658+00:00",
        "vm",
    ),
    (f"Dec  4 22:50:06 vm sm-mta[4242]: {HANDSHAKE}", "2026-12-04T22:50:06", "vm"),
    # journalctl 252 (systemd 252.38, Debian 12), TZ=Europe/Paris: -o short, short-precise,
    # short-iso, short-iso-precise
    (f"Nov 30 10:00:00 mx1 sm-mta[4242]: {HANDSHAKE}", "2026-11-30T10:00:00", "mx1"),
    (f"Nov 30 10:00:01.234567 mx1 sm-mta[4242]: {HANDSHAKE}", "2026-11-30T10:00:01", "mx1"),
    (f"2026-11-30T10:00:00+0100 mx1 sm-mta[4242]: {HANDSHAKE}", "2026-11-30T10:00:00+01:00", "mx1"),
    (
        f"2026-11-30T10:00:01.234567+0100 mx1 sm-mta[4242]: {HANDSHAKE}",
        "2026-11-30T10:00:01.234567+01:00",
        "mx1",
    ),
    # journalctl 252 -o short-full (and with-unit, which names the unit for the program):
    # local time as logged, the zone's abbreviation dropped (CET, or -03 in
    # America/Sao_Paulo); they were records with no time and no host
    (f"Mon 2026-11-30 10:00:00 CET mx1 sm-mta[4242]: {HANDSHAKE}", "2026-11-30T10:00:00", "mx1"),
    (
        f"Mon 2026-11-30 06:00:00 -03 mx1 sendmail.service[4242]: {HANDSHAKE}",
        "2026-11-30T06:00:00",
        "mx1",
    ),
    # journalctl 252 -o short-unix: seconds since the epoch, in UTC
    (
        f"1796029200.000000 mx1 sm-mta[4242]: {HANDSHAKE}",
        "2026-11-30T09:00:00.000000+00:00",
        "mx1",
    ),
    # FreeBSD syslogd -v and -vv (fprintlog_rfc3164 with LogFacPri): the facility and
    # level, numbers or names, between the time and the host; these lines were no record
    (f"Nov 30 10:00:00 <2.6> mx1 sm-mta[4242]: {HANDSHAKE}", "2026-11-30T10:00:00", "mx1"),
    (f"Nov 30 10:00:00 <mail.info> mx1 sm-mta[4242]: {HANDSHAKE}", "2026-11-30T10:00:00", "mx1"),
    # journalctl 252 -o json and json-seq (an RS before each entry): the entry's fields;
    # they were each counted as unreadable
    (JOURNAL_JSON, "2026-11-30T09:00:00.000000+00:00", "mx1"),
    ("\x1e" + JOURNAL_JSON, "2026-11-30T09:00:00.000000+00:00", "mx1"),
    # journalctl 252 -o short-monotonic: seconds since boot, no time of day
    (f"[   98.765432] mx1 sm-mta[4242]: {HANDSHAKE}", None, "mx1"),
]


@pytest.mark.parametrize(("line", "time", "host"), PREFIX_FORMS)
def test_the_prefixes_real_syslog_daemons_write(
    tmp_path: Path, line: str, time: str | None, host: str
) -> None:
    log = tmp_path / "mail.log"
    log.write_text(line + "\n", encoding="utf-8")
    want = reference((str(log),), 200)
    got = fast((str(log),), tmp_path, 200, 1)
    assert got[0] == want[0] and got[2] == want[2]
    (record,) = [json.loads(x) for x in want[0].decode().splitlines()]
    assert (record["time"], record["host"], record["relay"], record["verify"]) == (
        time,
        host,
        "mail-ed1-f49.google.com",
        "NOT",
    )


#: lines that look like journal JSON and are not entries of one: unreadable, never a crash
NOT_JOURNAL_ENTRIES = [
    '{"MESSAGE":"STARTTLS=server, relay=cut.example, vers"}',  # an entry, its message cut off
    "{not json, STARTTLS=server, relay=x}",
    '{"MESSAGE": 5, "SYSLOG_IDENTIFIER": "STARTTLS=server"}',
    '["STARTTLS=server, relay=x"]',
    '{"MESSAGE": "STARTTLS=server, relay=[192.0.2.1], version=TLSv1.3, ver',  # an entry cut off
    '{"a": ' + "[" * 30000 + '"STARTTLS=server"' + "]" * 30000 + "}",  # deeper than Python recurses
]


def test_lines_like_journal_json_that_are_no_entry_are_unreadable(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text("".join(line + "\n" for line in NOT_JOURNAL_ENTRIES), encoding="utf-8")
    want = reference((str(log),), 200)
    got = fast((str(log),), tmp_path, 200, 1)
    assert got[0] == want[0] == b""
    assert got[2] == want[2] == (len(NOT_JOURNAL_ENTRIES), len(NOT_JOURNAL_ENTRIES))
