"""compiler/sendmail/cfread against the real sendmail: every `O` line form, read as
sendmail 8.17 and 8.18 read it (`sendmail -bt -d37.1` prints each option it sets).

tlsc reads a host's own sendmail.cf in three places (doctor's D023, import's check
of the built .cf, lint's M4021) and the import's round trip compares two of them:
a hand-edited .cf (`O servercertfile=`, an abbreviation, `OServerCertFile=` that
is StatusFile to sendmail) must mean to tlsc what it means to sendmail.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from realtools import (
    SYSTEM_SENDMAIL,
    m4_build,
    render,
    scratch_dir,
    sendmail_818,
    sendmail_bt,
    spec,
)

from compiler.sendmail.cfread import OPTION_NAMES, cf_values, option_name

#: the options tlsc reads from a .cf
NAMES = ("ServerCertFile", "ServerKeyFile", "CACertFile", "CACertPath", "CipherList")
VALUE = "/etc/mail/tls/a b,c.pem"

_SET = re.compile(r"^setoption (\S+) \((?:.|0x[0-9a-f]+)\)(?:\.\S+)?=(.*)$", re.MULTILINE)


def _shortest_prefix(name: str) -> str:
    """The shortest prefix of `name` sendmail takes for it (the module's rule; the
    daemon checks it)."""
    for end in range(1, len(name)):
        if option_name(name[:end]) == name:
            return name[:end]
    return name


def _ambiguous_prefix(name: str) -> str | None:
    for end in range(len(name) - 1, 0, -1):
        prefix = name[:end].lower()
        if sum(n.lower().startswith(prefix) for n in OPTION_NAMES) > 1:
            return name[:end]
    return None


def _forms(name: str) -> list[str]:
    forms = [
        f"O {name}={VALUE}",
        f"O {name.lower()}={VALUE}",
        f"O {name.upper()}={VALUE}",
        f"O {_shortest_prefix(name)}={VALUE}",
        f"O {name} = {VALUE} \t ",
        f"O {name}\t={VALUE}",
        f"O\t{name}={VALUE}",
        f"O  {name}={VALUE}",
        f"O{name}={VALUE}",
        f"O {name}=\t{VALUE}",
        f"O {name}",
        f"O {name}.sub={VALUE}",
        f"O {name}={VALUE}\r",
        f"O {name}={VALUE}\n\tsecond",
        f"O {name}={VALUE}\n second",
        f"# O {name}=/x\n\tO {name}={VALUE}",
        f"o {name}={VALUE}",
        f"O {name}=/first\nO {name}={VALUE}",
        f"O {name}={VALUE}\nO {name}x=/second",
    ]
    ambiguous = _ambiguous_prefix(name)
    if ambiguous is not None:
        forms.append(f"O {ambiguous}={VALUE}")
    return forms


CASES = [(name, form) for name in NAMES for form in _forms(name)]


@pytest.fixture(scope="module")
def base_cf() -> str:
    """A .cf built from a compiled host's sendmail.mc, its TLS options taken out."""
    files = render(spec())
    mc = next(t for p, t in files.items() if p.endswith("sendmail.mc"))
    starttls = next(t for p, t in files.items() if p.endswith("starttls.m4"))
    with scratch_dir("cfread") as tmp:
        rc, cf, err = m4_build(mc, starttls, tmp)
    assert rc == 0, err
    return "\n".join(
        line for line in cf.split("\n") if not any(line.startswith(f"O {n}=") for n in NAMES)
    )


def _sendmail_reads(release_sendmail: object, cf_text: str) -> dict[str, str]:
    """Option -> the last value `sendmail -d37.1` says it set."""
    with scratch_dir("cfread") as tmp:
        cf = Path(tmp) / "t.cf"
        cf.write_bytes(cf_text.encode("utf-8"))
        done = sendmail_bt(release_sendmail, cf, flags=("-d37.1",))  # type: ignore[arg-type]
    out = done.stdout + done.stderr
    return {
        m.group(1): m.group(2).replace("\\n", "\n").replace("\\t", "\t") for m in _SET.finditer(out)
    }


@pytest.mark.parametrize("release", ["8.17", "8.18"])
@pytest.mark.parametrize(("name", "form"), CASES, ids=[repr(f)[1:40] for _, f in CASES])
def test_an_o_line_means_to_tlsc_what_it_means_to_sendmail(
    base_cf: str, release: str, name: str, form: str
) -> None:
    rel = SYSTEM_SENDMAIL if release == "8.17" else sendmail_818()
    cf_text = base_cf.rstrip("\n") + "\n" + form + "\n"
    theirs = _sendmail_reads(rel, cf_text)
    ours = cf_values(cf_text)
    for option in NAMES:
        assert ours.get(option) == theirs.get(option), (option, form)
