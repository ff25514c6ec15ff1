"""The tlsc.sendmail collection with the real ansible-core: groups: in the spec, the
inventory plugin, ansible-doc of the module, ansible-galaxy collection build."""

from __future__ import annotations

import importlib.util
import json
import re
import tarfile
from pathlib import Path

import pytest
from ansible_helpers import COLLECTION, ansible
from conftest import pos, run_cli, write_spec

import compiler

SPEC = """\
version: 1
cluster: colo
hosts:
  mx1:
    fqdn: mx1.example.net
    address: 192.0.2.10
    groups: [canary, eu]
  mx2:
    fqdn: mx2.example.net
    groups: [eu]
  mx3:
    fqdn: mx3.example.net
"""


def test_groups_validate_by_ansible_rules(tmp_path: Path) -> None:
    text = SPEC.replace("groups: [eu]", "groups: [eu, 2nd]")
    spec = write_spec(tmp_path, text)
    rc, out, err = run_cli("validate", spec)
    assert rc == 1, out
    line, col = pos(text, "2nd")
    assert f"{spec}:{line}:{col}: error: S104 hosts.mx2.groups.1: group name '2nd'" in out + err
    text = SPEC.replace("groups: [eu]", "groups: [eu, eu]")
    spec = write_spec(tmp_path, text)
    rc, out, err = run_cli("validate", spec)
    assert rc == 1, out
    line, col = pos(text, "[eu, eu]")
    assert f"{spec}:{line}:{col}: error: S104 hosts.mx2.groups: group 'eu' is listed twice" in (
        out + err
    )
    rc, out, err = run_cli("validate", write_spec(tmp_path, SPEC))
    assert rc == 0, out + err


def test_galaxy_version_is_tlsc_version() -> None:
    text = (COLLECTION / "galaxy.yml").read_text(encoding="utf-8")
    match = re.search(r"^version: (\S+)$", text, re.M)
    assert match and match.group(1) == compiler.__version__


def inventory_file(tmp_path: Path, spec_text: str) -> Path:
    (tmp_path / "specs").mkdir(exist_ok=True)
    write_spec(tmp_path / "specs", spec_text)
    (tmp_path / "inv").mkdir(exist_ok=True)
    inv = tmp_path / "inv" / "tlsc.yml"
    inv.write_text("plugin: tlsc.sendmail.spec\nspec: ../specs/cluster.yaml\n", encoding="utf-8")
    return inv


def test_inventory_lists_the_spec_hosts(tmp_path: Path) -> None:
    inv = inventory_file(tmp_path, SPEC)
    proc = ansible("inventory", "-i", inv, "--list", scratch=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # ansible-core 2.19 marks strings from inventory plugins as {"__ansible_unsafe": ...}
    listing = json.loads(
        proc.stdout, object_hook=lambda d: d.get("__ansible_unsafe", d) if len(d) == 1 else d
    )
    hostvars = listing["_meta"]["hostvars"]
    assert sorted(hostvars) == ["mx1", "mx2", "mx3"]
    assert hostvars["mx1"]["ansible_host"] == "192.0.2.10"
    assert hostvars["mx2"]["ansible_host"] == "mx2.example.net"
    assert hostvars["mx3"]["tlsc_host"] == "mx3" and hostvars["mx3"]["tlsc_fqdn"] == (
        "mx3.example.net"
    )
    assert hostvars["mx1"]["tlsc_spec"] == str(tmp_path / "specs" / "cluster.yaml")
    assert listing["canary"]["hosts"] == ["mx1"]
    assert sorted(listing["eu"]["hosts"]) == ["mx1", "mx2"]
    assert sorted(listing["tlsc"]["hosts"]) == ["mx1", "mx2", "mx3"]


def test_inventory_bad_spec_is_one_clear_error(tmp_path: Path) -> None:
    text = SPEC.replace("fqdn: mx2.example.net", "fqdn: mx2..example.net")
    inv = inventory_file(tmp_path, text)
    proc = ansible("inventory", "-i", inv, "--list", scratch=tmp_path)
    assert proc.returncode != 0
    spec = tmp_path / "specs" / "cluster.yaml"
    line, col = pos(text, "mx2..example.net")
    # ansible-core 2.16 wraps its warnings at 80 columns: compare without the blanks
    unwrapped = re.sub(r"\s+", "", proc.stderr)
    assert re.sub(r"\s+", "", f"{spec}:{line}:{col}: error:") in unwrapped, proc.stderr
    assert "Traceback" not in proc.stderr


def test_ansible_doc_renders_the_module(tmp_path: Path) -> None:
    proc = ansible("doc", "tlsc.sendmail.apply", scratch=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for text in ("tlsc apply", "allow_downgrade", "EXAMPLES", "RETURN VALUES", "rolled_back"):
        assert text in proc.stdout, text
    proc = ansible("doc", "-t", "inventory", "tlsc.sendmail.spec", scratch=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "ansible_host" in proc.stdout


def test_galaxy_builds_the_collection(tmp_path: Path) -> None:
    proc = ansible(
        "galaxy", "collection", "build", COLLECTION, "--output-path", tmp_path, scratch=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    tarball = tmp_path / f"tlsc-sendmail-{compiler.__version__}.tar.gz"
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    for name in (
        "MANIFEST.json",
        "plugins/inventory/spec.py",
        "plugins/modules/apply.py",
        "playbooks/rollout.yml",
    ):
        assert name in names, name
    # installed from the tarball, the playbook runs by its name
    installed = tmp_path / "installed"
    proc = ansible(
        "galaxy",
        "collection",
        "install",
        tarball,
        "-p",
        installed,
        scratch=tmp_path,
        ANSIBLE_COLLECTIONS_PATH=str(installed),
    )
    assert proc.returncode == 0, proc.stderr
    inv = inventory_file(tmp_path, SPEC)
    proc = ansible(
        "playbook",
        "tlsc.sendmail.rollout",
        "-i",
        inv,
        "--list-hosts",
        scratch=tmp_path,
        ANSIBLE_COLLECTIONS_PATH=str(installed),
    )
    assert proc.returncode == 0, proc.stderr
    assert "hosts (3)" in proc.stdout and "mx2" in proc.stdout, proc.stdout


def test_inventory_without_tlsc_reads_hosts_plainly(tmp_path: Path) -> None:
    """The fallback when tlsc is not importable on the controller: the same hosts."""
    source = COLLECTION / "plugins" / "inventory" / "spec.py"
    found = importlib.util.spec_from_file_location("tlsc_inventory_spec", source)
    assert found is not None and found.loader is not None
    plugin = importlib.util.module_from_spec(found)
    found.loader.exec_module(plugin)
    spec = write_spec(tmp_path, SPEC)
    assert plugin._hosts_plain(str(spec)) == plugin._hosts_with_tlsc(str(spec))
    assert plugin._hosts_plain(str(spec))[0] == (
        "mx1",
        "mx1.example.net",
        "192.0.2.10",
        [
            "canary",
            "eu",
        ],
    )
    with pytest.raises(Exception, match="groups must be a list"):
        plugin._hosts_plain(str(write_spec(tmp_path, SPEC.replace("[eu]", "[9x]"))))


@pytest.mark.parametrize(
    ("name", "read"),
    [("on", "bool True"), ("No", "bool False"), ("OFF", "bool False"), ("010", "int 8"),
     ("0x1F", "int 31"), ("1_0", "int 10"), ("1.5", "float 1.5"), ("null", "NoneType None")],
)  # fmt: skip
def test_inventory_without_tlsc_refuses_a_host_name_yaml_11_reads_otherwise(
    tmp_path: Path, name: str, read: str
) -> None:
    """tlsc reads a host key as its text; PyYAML (YAML 1.1) read `on:` as True and
    `010:` as 8, so the fallback listed a host 'True' or '8' that the spec lacks."""
    source = COLLECTION / "plugins" / "inventory" / "spec.py"
    found = importlib.util.spec_from_file_location("tlsc_inventory_spec", source)
    assert found is not None and found.loader is not None
    plugin = importlib.util.module_from_spec(found)
    found.loader.exec_module(plugin)
    spec = write_spec(tmp_path, SPEC.replace("  mx3:", f"  {name}:"))
    assert [h[0] for h in plugin._hosts_with_tlsc(str(spec))] == ["mx1", "mx2", name]
    with pytest.raises(Exception, match=f"a host name is read as {read} by YAML 1.1"):
        plugin._hosts_plain(str(spec))
    quoted = write_spec(tmp_path, SPEC.replace("  mx3:", f"  '{name}':"))
    assert plugin._hosts_plain(str(quoted)) == plugin._hosts_with_tlsc(str(quoted))
