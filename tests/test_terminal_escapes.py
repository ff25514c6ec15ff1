"""What tlsc shows is shown, never acted on: each control a hostile server, log line or file
can hold (an ESC sequence, an OSC title, a C1 CSI, a bidi override, a backspace, a bare CR)
reaches stdout and stderr escaped, on every text surface that quotes what tlsc did not write.

The JSON outputs escape them already (json.dumps) and stay as they are.
"""

from __future__ import annotations

import json
import re
import ssl
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fake_smtp import FakeSmtp, Session
from import_helpers import PLAIN_MC, tree
from plan_helpers import compile_to, write
from test_logs_whatif_command import SPEC as WHATIF_SPEC
from test_plan_mail_impact import OLD  # the state tree: bank.example only encrypted
from throwaway_ca import ThrowawayCA

from compiler.cli import main
from compiler.sendmail.names import parse_peer

#: one of each form, named for the test ids
FORMS = {
    "csi": "\x1b[31m",
    "osc-bel": "\x1b]0;pwn\x07",
    "c1-csi": "\x9b2J",
    "bidi": "\u202e",
    "backspace": "\x08\x08",
    "cr": "\r",
}
form_ids = pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())

#: what must never reach a terminal raw (tlsc's own newlines and tabs may)
_RAW = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u061c\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff]"
)


def escaped(text: str) -> str:
    """`text` as tlsc must show it: each such character as Python writes its escape (the
    test's own, not the code's under test)."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if _RAW.match(ch) else ch for ch in text
    )


def assert_shown(result: Result, form: str) -> None:
    """Nothing raw on stdout or stderr, and the form shown as its escape somewhere."""
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        raw = _RAW.findall(text)
        assert not raw, f"raw {raw!r} on {name}:\n{text}"
    assert escaped(form) in result.stdout + result.stderr, result.output


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# -- tlsc verify against a fake server on 127.0.0.1 ------------------------------------


def _refuses(stage: str, form: str):  # type: ignore[no-untyped-def]
    def script(s: Session) -> None:
        if stage == "greeting":
            s.send(f"554 5.3.2 busy {form}go away\n")
            return
        s.send(f"220 fake {form}ESMTP\n")
        s.expect("EHLO")
        if stage == "ehlo":
            s.send(f"550 5.7.1 {form}no\n")
            return
        s.send(f"250-fake {form}hello\n250 STARTTLS\n")
        s.expect("STARTTLS")
        s.send(f"454 4.7.0 {form}no TLS\n")

    return script


@form_ids
@pytest.mark.parametrize("stage", ["greeting", "ehlo", "starttls"])
def test_verify_text_escapes_a_servers_reply(stage: str, form: str) -> None:
    with FakeSmtp(_refuses(stage, form)) as fake:
        result = run("verify", f"127.0.0.1:{fake.port}")
    assert result.exit_code == 1
    assert_shown(result, form)
    if stage == "starttls":  # the sentence under the table, whole
        assert f"refused STARTTLS: 454 4.7.0 {escaped(form)}no TLS" in result.stdout


@form_ids
def test_verify_json_is_unchanged_by_the_escaping(form: str) -> None:
    with FakeSmtp(_refuses("starttls", form)) as fake:
        result = run("verify", f"127.0.0.1:{fake.port}", "--format", "json")
    [item] = json.loads(result.stdout)
    assert item["error"].endswith(f"refused STARTTLS: 454 4.7.0 {form}no TLS")


@pytest.fixture(scope="module")
def ca() -> ThrowawayCA:
    return ThrowawayCA()


@form_ids
def test_verify_text_escapes_a_certificates_names(
    ca: ThrowawayCA, tmp_path: Path, form: str
) -> None:
    issued = ca.issue(f"fake{form}.tlsc.test", ["fake.tlsc.test"])
    issued.write(tmp_path / "srv.crt", tmp_path / "srv.key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "srv.crt", tmp_path / "srv.key")

    def script(s: Session) -> None:
        s.send("220 fake ESMTP\n")
        s.expect("EHLO")
        s.send("250-fake\n250 STARTTLS\n")
        s.expect("STARTTLS")
        s.send("220 go ahead\n")
        s.start_tls(context)
        s.ehlo_and_quit()

    with FakeSmtp(script) as fake:
        result = run("verify", f"127.0.0.1:{fake.port}")
        as_json = run("verify", f"127.0.0.1:{fake.port}", "--format", "json")
    assert not _RAW.findall(result.stdout + result.stderr), result.output
    # the subject as JSON has it (certinfo writes a control as sendmail logs it, \x1B),
    # escaped where that leaves one
    [item] = json.loads(as_json.stdout)
    assert f"CN={escaped(item['cert_subject'].partition('CN=')[2])}" in result.stdout


# -- tlsc logs: the summary, the what-if, plan --logs ----------------------------------


def _hostile_log(form: str) -> str:
    return (
        "Nov 28 10:00:01 colo10 sm-mta[124]: ruleset=tls_server, arg1=SOFTWARE,"
        f" relay=evil{form}.example [192.0.2.1], reject=403 4.7.0 TLS handshake failed.\n"
        "Nov 28 10:00:02 colo10 sm-mta[125]: STARTTLS=server, error: accept failed=-1,"
        f" reason=bad{form}handshake, relay=c1.example [192.0.2.5]\n"
    )


@form_ids
def test_logs_summary_escapes_peers_and_errors(tmp_path: Path, form: str) -> None:
    log = write(tmp_path / "mail.log", _hostile_log(form))
    result = run("logs", "--year", "2026", str(log))
    assert result.exit_code == 0, result.output
    assert_shown(result, form)
    # the Peers table shows the relay as the log reader read it (a name ends at `[` or CR)
    records = run("logs", "--year", "2026", str(log), "--format", "json").stdout.splitlines()
    [relay] = [r["relay"] for r in map(json.loads, records) if r["relay"].startswith("evil")]
    assert escaped(relay) in result.stdout
    assert f"bad{escaped(form)}handshake" in result.stdout  # the Errors table
    # the hint proposes only keys the spec takes: the peer's address when its name is not
    keys = re.findall(r'^  "(.*)": \{outbound: \{starttls: false\}\}$', result.stdout, re.M)
    assert all(parse_peer(k) for k in keys), keys
    if escaped(relay) != relay:  # (a `[` ends the name and leaves no address)
        assert keys == ([] if "[" in form else ["192.0.2.1"])


@pytest.mark.parametrize("label", ["*", "evil..example", "-x.example", "x_y!.example"])
def test_logs_hint_never_proposes_a_key_the_spec_refuses(tmp_path: Path, label: str) -> None:
    log = write(
        tmp_path / "mail.log",
        "Nov 28 10:00:01 colo10 sm-mta[124]: ruleset=tls_server, arg1=SOFTWARE,"
        f" relay={label}, reject=403 4.7.0 TLS handshake failed.\n",
    )
    result = run("logs", "--year", "2026", str(log))
    assert result.exit_code == 0, result.output
    assert "domains:\n" not in result.stdout, result.stdout


def _whatif_log(form: str) -> str:
    """A session the spec's bank.example rule stops, with a hostile recipient, and one of a
    host the spec does not name, with a hostile name."""
    return (
        "Nov 26 10:00:00 mx1 sm-mta[102]: STARTTLS=client, relay=mx2.bank.example.,"
        " version=TLSv1.2, verify=FAIL, cipher=ECDHE-RSA-AES256-GCM-SHA384, bits=256/256\n"
        f"Nov 26 10:00:01 mx1 sm-mta[102]: 5AQA000200102: to=<b{form}@bank.example>,"
        " delay=00:00:01, mailer=esmtp, relay=mx2.bank.example. [198.51.100.2],"
        " stat=Sent (ok)\n"
        f"Nov 30 10:00:00 mta{form}9 sm-mta[301]: STARTTLS=client, relay=mx.weak.example.,"
        " version=TLSv1.2, verify=OK, cipher=ECDHE-RSA-AES128-GCM-SHA256, bits=128/128\n"
        f"Nov 30 10:00:01 mta{form}9 sm-mta[301]: 5AUA001300301: to=<y@weak.example>,"
        " delay=00:00:01, mailer=esmtp, relay=mx.weak.example. [203.0.113.5], stat=Sent (ok)\n"
    )


#: the forms the syslog reader keeps in a host name (a line whose host holds an ESC or a CR
#: is not a syslog line to it)
HOST_KEPT = ("\x9b2J", "\u202e", "\x08\x08")


@form_ids
def test_logs_whatif_escapes_recipients_and_hosts(tmp_path: Path, form: str) -> None:
    spec = write(tmp_path / "cluster.yaml", WHATIF_SPEC)
    log = write(tmp_path / "mail.log", _whatif_log(form))
    result = run("logs", "--year", "2026", str(log), "--spec", str(spec))
    assert result.exit_code == 0, result.output
    assert_shown(result, form)
    assert f"b{escaped(form)}@bank.example" in result.stdout, result.stdout
    if form in HOST_KEPT:
        assert f"mta{escaped(form)}9" in result.stdout, result.stdout


@form_ids
@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_plan_logs_escapes_the_logs_hosts(tmp_path: Path, form: str, fmt: str) -> None:
    spec = write(tmp_path / "cluster.yaml", WHATIF_SPEC)
    state = compile_to(OLD, tmp_path / "state")
    log = write(tmp_path / "mail.log", _whatif_log(form))
    result = run(
        "plan", str(spec), "--state", str(state), "--year", "2026", "--logs", str(log),
        "--format", fmt,
    )  # fmt: skip
    assert not _RAW.findall(result.stdout + result.stderr), result.output
    if form in HOST_KEPT:
        assert f"mta{escaped(form)}9" in result.stdout, result.stdout


# -- plan: the diff of a host's file ----------------------------------------------------


@form_ids
@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_plan_diff_of_a_hosts_file_is_escaped(tmp_path: Path, form: str, fmt: str) -> None:
    spec = write(tmp_path / "cluster.yaml", WHATIF_SPEC)
    state = compile_to(OLD, tmp_path / "state")
    [access] = [p for p in (state / "mx1").rglob("access") if p.is_file()]
    text = access.read_text(encoding="utf-8")
    access.write_text(f"# the host's own{form} note\n" + text, encoding="utf-8")
    result = run("plan", str(spec), "--state", str(state), "--format", fmt)
    assert_shown(result, form)
    assert f"the host's own{escaped(form)} note" in result.stdout
    data = run("plan", str(spec), "--state", str(state), "--format", "json").stdout
    diffs = [f["diff"] for h in json.loads(data)["hosts"] for f in h["files"]]
    assert any(f"the host's own{form} note" in d for d in diffs)  # JSON: as the file has it


# -- lint --fix, import, doctor ---------------------------------------------------------


@form_ids
def test_lint_fix_diff_shows_the_files_lines_escaped(tmp_path: Path, form: str) -> None:
    mc = write(
        tmp_path / "sendmail.mc",
        f"divert(-1)dnl\n# mine{form}\ndivert(0)dnl\n"
        "define(\u2018confCIPHER_LIST\u2019, `HIGH')dnl\n",
    )
    result = run("lint", "--fix", "--dry-run", str(mc))
    assert "+define(" in result.stdout, result.output
    assert_shown(result, form)


@form_ids
def test_import_notes_and_summary_escape_the_hosts_files(tmp_path: Path, form: str) -> None:
    mc = PLAIN_MC.replace(
        "MAILER(`local')dnl\n",
        f"define(`confSMTP_LOGIN_MSG', `$j hi{form} there')dnl\n"
        f"MAILER(`local')dnl\nMAILER(`x{form}y')dnl\n",
    )
    root = tree(tmp_path / "root", access="TLS_Srv:ok.example\tVERIFY\n", mc=mc)
    result = run(
        "import", str(root), "--host", "mx1", "--fqdn", "mx1.example.org",
        "--ownership", "file", "--allow-loss",
    )  # fmt: skip
    assert_shown(result, form)
    assert f"MAILER(`x{escaped(form)}y')" in result.stderr


@form_ids
def test_doctor_quotes_a_certificates_names_escaped(
    ca: ThrowawayCA, tmp_path: Path, form: str
) -> None:
    from compiler.doctor.finding import format_text
    from compiler.doctor.pki import check_name, load_certificates

    issued = ca.issue(f"mx{form}.example.org", [])
    issued.write(tmp_path / "srv.crt", tmp_path / "srv.key")
    certs = load_certificates(tmp_path / "srv.crt", "server certificate")
    assert isinstance(certs, list)
    found = check_name(tmp_path / "srv.crt", certs[0], "mx1.example.org")
    text = format_text(found)
    assert not _RAW.findall(text) and f"mx{escaped(form)}.example.org" in text, text


# -- the helper itself, and the Ansible module's copy of it -----------------------------


def test_one_helper_escapes_every_form_and_leaves_the_rest() -> None:
    from compiler.problems import one_line, printable

    every = "".join(map(chr, range(0x3000)))
    assert one_line(every) == escaped(every).replace("\t", "\\t").replace("\n", "\\n")
    assert printable(every, "\n\t") == escaped(every)
    assert printable("mx1.example.org\tOK ü …") == "mx1.example.org\\tOK ü …"


def test_the_ansible_modules_copy_escapes_as_tlsc_does() -> None:
    import importlib.util

    from compiler.problems import one_line

    path = Path(__file__).parent.parent / "ansible/tlsc/sendmail/plugins/modules/apply.py"
    spec = importlib.util.spec_from_file_location("tlsc_apply_module", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    every = "".join(map(chr, range(0x3000)))
    assert module.printable(every) == one_line(every)
    reply = json.dumps({"message": f"verify failed: 454 {FORMS['osc-bel']}no"})
    assert module._sentence(reply, "", "x") == "verify failed: 454 \\x1b]0;pwn\\x07no"
