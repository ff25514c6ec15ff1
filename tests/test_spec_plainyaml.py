"""spec/plainyaml.py, the reader of a small spec of the plain shape (no ruamel.yaml),
held to the general loader: on every spec here, on generated specs of every
shape it reads and many it does not (then it must say None, and the general
loader gives the file's problems), same data and types, the same positions of
values and keys, the same boolean words.
"""

from __future__ import annotations

import random
import string
import subprocess
import sys

import pytest
from conftest import ROOT, cli_env
from fast_loader_checks import same_load
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.spec import plainyaml
from compiler.spec.loader import load_text

#: scalars a spec may hold, and the ones YAML reads otherwise than they look
SCALARS = [
    "colo10.example.net", "192.0.2.10", "/etc/mail/tls/ca.crt", "550 Access denied",
    "authwarnings,noexpn,novrfy", "Family=inet, Name=MTA-v4, Port=smtp", "Connect:127 RELAY",
    "TLS_Srv:bank.example VERIFY:128", "/C=US/ST=CA/O=safe/CN=example.net/", "MyCA", "x" * 40,
    "8.17", "8.18.1", "0x1F", "017", "00", "0", "7", "128", "1_000", "+1", "-1", ".5", "1.",
    ".inf", "-.Inf", ".NaN", "1e5", "1E-3", "0b101", "0o17", "2026-12-07", "2026-12-07 10:00:00",
    "2026-12-07T10:00:00Z", "12:30", "18446744073709551616", "9" * 25, "yes", "No", "on", "OFF",
    "y", "N", "true", "False", "TRUE", "null", "Null", "~", "", "<<", "=", "a#b", "a #b", "a: b",
    "a:b", "a:", ":a", "- a", "-a", "? a", "?a", "[a", "{a", "a]", "a}", "a,b", "&x", "*x", "!x",
    "!!str x", "|", ">", "%x", "@x", "`x", "it's", "a\"b", "\\", "a\\b", " a", "a ", "(x)", "$x",
    "^x", ";x", "<x>", ".x", "..", "...", "---", "Zürich", "a  b", "#", "a\tb", "é",
]  # fmt: skip
KEYS = [
    "version", "hosts", "mx1", "a", "b", "bank.example", "darth@endmail.org", "192.0.2", "*",
    "true", "1", "0x1F", "a b", "a:b", "<<", "=", "x-y", ".hidden", "a/b", "Zü", "", "'", "#",
    "a#b", "key", "defines", "confCACERT", "TLS_Srv", "-a", "?a",
]  # fmt: skip


def _quoted(rng: random.Random, text: str, *, key: bool = False) -> str:
    """`text` written plain, single- or double-quoted (some plain ones YAML reads otherwise)."""
    style = rng.random()
    if style < 0.55:
        return text
    if style < 0.8:
        return "'" + text.replace("'", "''") + "'"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


#: what most values of a spec are (the generated specs take the plain path often)
COMMON = [*SCALARS[:11], "7", "128", "yes", "true", "False", "~", "it's", "a#b", "(x)", "é"]
COMMON_KEYS = [*KEYS[:7], "key", "defines", "confCACERT", "TLS_Srv", "1", "true"]


def _scalar(rng: random.Random) -> str:
    return _quoted(rng, rng.choice(COMMON if rng.random() < 0.93 else SCALARS))


def _key(rng: random.Random) -> str:
    return rng.choice(COMMON_KEYS if rng.random() < 0.95 else KEYS)


def _flow(rng: random.Random, value: object) -> str:
    if isinstance(value, dict):
        inner = ", ".join(f"{_quoted(rng, k, key=True)}: {_flow(rng, v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(rng, v) for v in value) + "]"
    return str(value)


def _value(rng: random.Random, depth: int) -> object:
    """A tree whose leaves are scalar texts as written."""
    roll = rng.random()
    if depth >= 4 or roll < 0.55:
        return _scalar(rng)
    if roll < 0.8:
        return {_key(rng): _value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def _comment(rng: random.Random) -> str:
    return rng.choice(["", "", "", "  # note", " #", "   # ü ok", " #x: y"])


def _block(rng: random.Random, value: dict | list, indent: int, out: list[str]) -> None:
    """`value` as block YAML at `indent`, each line appended to `out`."""
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            head = f"{pad}{_quoted(rng, key, key=True)}:"
            _item(rng, head, item, indent, out, in_mapping=True)
        return
    for item in value:
        dash = "-" + " " * rng.choice([1, 1, 1, 2, 3])
        if isinstance(item, dict) and item and rng.random() < 0.7:
            inner: list[str] = []
            _block(rng, item, indent + len(dash), inner)
            out.append(pad + dash + inner[0][indent + len(dash) :])
            out.extend(inner[1:])
            continue
        _item(rng, pad + dash.rstrip(" "), item, indent, out, in_mapping=False)


def _item(
    rng: random.Random, head: str, item: object, indent: int, out: list[str], in_mapping: bool
) -> None:
    if rng.random() < 0.15:
        out.append(rng.choice(["", "# a comment", "   # indented comment", "  "]))
    if not isinstance(item, (dict, list)) or not item or rng.random() < 0.25:
        out.append(f"{head} {_flow(rng, item)}{_comment(rng)}")
        return
    out.append(head + _comment(rng))
    if in_mapping and isinstance(item, list) and rng.random() < 0.3:
        _block(rng, item, indent, out)  # a list at its key's indent
        return
    _block(rng, item, indent + rng.choice([2, 2, 2, 4, 1, 3]), out)


def _mutated(rng: random.Random, text: str) -> str:
    """One hostile edit: a character put in or taken out, a line doubled or indented."""
    roll = rng.random()
    if roll < 0.4 and text:
        at = rng.randrange(len(text))
        char = rng.choice(":#- \t\"'[]{},\n&*!|>%@`\\\x01\x7fü\ufeff\u00a0")
        return text[:at] + char + text[at:]
    if roll < 0.6 and text:
        at = rng.randrange(len(text))
        return text[:at] + text[at + 1 :]
    lines = text.split("\n")
    at = rng.randrange(len(lines))
    if roll < 0.8:
        lines.insert(at, lines[at])
    else:
        lines[at] = " " + lines[at]
    return "\n".join(lines)


def spec_text(seed: int, mutate: bool) -> str:
    rng = random.Random(seed)
    root = {_key(rng): _value(rng, 1) for _ in range(rng.randint(1, 6))}
    lines: list[str] = []
    if rng.random() < 0.3:
        lines.append("# yaml-language-server: $schema=../schemas/tlsc.schema.json")
    _block(rng, root, 0, lines)
    text = "\n".join(lines) + rng.choice(["\n", "", "\n\n"])
    return _mutated(rng, text) if mutate else text


@pytest.mark.parametrize(
    "path",
    sorted(p.relative_to(ROOT) for p in ROOT.glob("**/*.yaml") if ".venv" not in p.parts),
    ids=str,
)
def test_every_spec_here_is_read_as_the_general_loader_reads_it(path: object) -> None:
    text = (ROOT / str(path)).read_text(encoding="utf-8")
    same_load(text)


def test_the_example_is_read_without_ruamel() -> None:
    text = (ROOT / "examples" / "canit-cluster.yaml").read_text(encoding="utf-8")
    assert plainyaml.read(text) is not None
    code = (
        "import sys\n"
        "from compiler.spec.loader import load_file\n"
        "load_file('examples/canit-cluster.yaml')\n"
        "assert not any(m.startswith('ruamel') for m in sys.modules), sorted(sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=cli_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


@settings(max_examples=600, deadline=None)
@given(st.integers(0, 2**32), st.booleans())
def test_a_generated_spec_is_read_as_the_general_loader_reads_it(seed: int, mutate: bool) -> None:
    same_load(spec_text(seed, mutate))


def test_the_generated_specs_take_the_plain_path() -> None:
    """The property above compares something: most unmutated specs are read here, and
    some are not (a float, an odd key, a tab...)."""
    read = [plainyaml.read(spec_text(seed, False)) is not None for seed in range(400)]
    assert 0.2 * len(read) < sum(read) < len(read)


@settings(max_examples=800, deadline=None)
@given(
    st.one_of(
        st.sampled_from(SCALARS),
        st.text(alphabet=string.printable, max_size=14),
        st.text(alphabet="0123456789._-+:eExXoObB ", max_size=10),
    ),
    st.sampled_from(["k: {}\n", "k: [{}]\n", "k: {{a: {}}}\n", "k:\n  - {}\n", "'{}': 1\n"]),
)
def test_a_scalar_is_read_as_the_general_loader_reads_it(value: str, form: str) -> None:
    for written in (value, "'" + value.replace("'", "''") + "'", '"' + value + '"'):
        same_load(form.format(written))


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\n  b: 2\n",  # a line deeper than its key's value
        "a:\n- 1\n- 2\nb: 3\n",  # a list at its key's indent
        "a:\n  - b: 1\n    c: 2\n  - d\n",
        "a:\n  -   b: 1\n      c: [x, 'y', \"z\"]\n",
        "a: b\na: c\n",  # a duplicate: the general loader's Y002
        "a: {b: 1, b: 2}\n",
        "a:\n",  # an empty value
        "a: &x 1\nb: *x\n",
        "<<: {a: 1}\n",
        "a: 'it''s'\n",
        'a: "x\\ty"\n',
        "a: [1, 2,]\n",
        "a: {b: 1\n",
        "a: b: c\n",
        "--- \na: 1\n",
        "%YAML 1.1\n---\na: yes\n",
        "a: yes\nb: 'no'\nc: On\n",
        "- a\n- b\n",
        "a:\tb\n",
        "a: b # c\n# d\n\n   \ne: f   \n",
    ],
)
def test_hand_written_shapes(text: str) -> None:
    same_load(text)


def test_nothing_is_refused_on_the_plain_path() -> None:
    """A spec the general loader refuses is never read here (its problems are its)."""
    for seed in range(300):
        text = spec_text(seed, True)
        try:
            load_text(text)
        except Exception:
            assert plainyaml.read(text) is None, text


def test_a_scalar_resolves_as_ruamels_resolver_says() -> None:
    """Each plain scalar read here has the type ruamel's YAML 1.2 resolver gives it;
    one it makes a float, an integer not in plain digits or a timestamp is left."""
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    resolver = VersionedResolver(loader=YAML(typ="safe", pure=False))
    rng = random.Random(7)
    values = SCALARS + [
        "".join(rng.choice("0123456789._-+:eEoxbinfINFaNT ") for _ in range(rng.randint(1, 8)))
        for _ in range(3000)
    ]
    reader = plainyaml._Reader("a: 1\n")
    for value in values:
        tag = str(resolver.resolve(ScalarNode, value, (True, False))).rsplit(":", 1)[-1]
        try:
            got = reader.plain(value, ("x",))
        except plainyaml._Other:
            assert tag in ("float", "int", "timestamp", "merge", "value"), value
            continue
        want = {"str": str, "int": int, "bool": bool, "null": type(None)}[tag]
        assert type(got) is want, (value, tag)
