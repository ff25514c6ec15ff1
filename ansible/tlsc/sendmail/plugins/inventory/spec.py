# tlsc.sendmail.spec: one Ansible host per host of a tlsc spec.
from __future__ import annotations

DOCUMENTATION = r"""
name: spec
short_description: Ansible hosts from a tlsc spec's hosts
version_added: "0.1.0"
description:
  - Reads a tlsc cluster spec (YAML) and makes one Ansible host per spec host, named as in
    the spec.
  - C(ansible_host) is the host's C(address), else its C(fqdn); the hostvars C(tlsc_host)
    (the spec's host name), C(tlsc_fqdn) and C(tlsc_spec) (the spec's absolute path) are set;
    the host joins every group of its C(groups:) list, and the group C(tlsc).
  - When the C(tlsc) package is importable in the controller's Python, the spec is fully
    validated by tlsc and any problem fails the inventory with tlsc's PATH:LINE:COL sentence.
    Otherwise only the C(hosts:) mapping is read with a plain YAML parser (names, fqdn,
    address, groups); run C(tlsc validate) in CI for the full checks.
  - The inventory source is a YAML file whose name ends in C(tlsc.yml) or C(tlsc.yaml).
options:
  plugin:
    description: The name of this plugin; must be C(tlsc.sendmail.spec).
    required: true
    type: str
    choices: [tlsc.sendmail.spec]
  spec:
    description: The tlsc spec file; a relative path is relative to the inventory file.
    required: true
    type: str
"""

EXAMPLES = r"""
# inventory/tlsc.yml
plugin: tlsc.sendmail.spec
spec: ../cluster.yaml

# ansible-inventory -i inventory/tlsc.yml --graph
"""

import os  # noqa: E402 (Ansible: the doc blocks come first)
import re  # noqa: E402 (Ansible: the doc blocks come first)

from ansible.errors import AnsibleParserError  # noqa: E402 (Ansible: the doc blocks come first)
from ansible.plugins.inventory import BaseInventoryPlugin  # noqa: E402 (Ansible: the doc blocks come first)

_GROUP = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class InventoryModule(BaseInventoryPlugin):
    """The tlsc.sendmail.spec inventory plugin."""

    NAME = "tlsc.sendmail.spec"

    def verify_file(self, path):
        """Accept only files named *tlsc.yml / *tlsc.yaml."""
        if not super().verify_file(path):
            return False
        return path.endswith(("tlsc.yml", "tlsc.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        """Add the spec's hosts to the inventory."""
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        spec = os.path.expanduser(self.get_option("spec"))
        if not os.path.isabs(spec):
            spec = os.path.join(os.path.dirname(os.path.abspath(path)), spec)
        spec = os.path.abspath(spec)
        hosts = _hosts_with_tlsc(spec)
        if hosts is None:
            hosts = _hosts_plain(spec)
        self.inventory.add_group("tlsc")
        for name, fqdn, address, groups in hosts:
            self.inventory.add_host(name, group="tlsc")
            self.inventory.set_variable(name, "ansible_host", address or fqdn)
            self.inventory.set_variable(name, "tlsc_host", name)
            self.inventory.set_variable(name, "tlsc_fqdn", fqdn)
            self.inventory.set_variable(name, "tlsc_spec", spec)
            for group in groups:
                self.inventory.add_group(group)
                self.inventory.add_host(name, group=group)


def _hosts_with_tlsc(spec):
    """The hosts by tlsc's own loader and validation, or None when tlsc is not importable."""
    try:
        from compiler.problems import format_text
        from compiler.spec.loader import SpecLoadError, load_file
        from compiler.spec.validate import validate
    except ImportError:
        return None
    try:
        loaded = load_file(spec)
    except SpecLoadError as exc:
        raise AnsibleParserError(format_text(exc.problems).strip()) from None
    checked = validate(loaded)
    if not checked.ok or checked.cluster is None:
        errors = [p for p in checked.problems if p.severity == "error"]
        raise AnsibleParserError(format_text(errors).strip())
    return [(name, h.fqdn, h.address, list(h.groups)) for name, h in checked.cluster.hosts.items()]


def _hosts_plain(spec):
    """The hosts read as plain YAML (tlsc not installed on the controller)."""
    import yaml

    try:
        with open(spec, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as exc:
        raise AnsibleParserError(f"{spec}: cannot read the spec: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise AnsibleParserError(f"{spec}: not valid YAML: {exc}") from None
    hosts = data.get("hosts") if isinstance(data, dict) else None
    if not isinstance(hosts, dict) or not hosts:
        raise AnsibleParserError(f"{spec}: the spec has no hosts: mapping")
    out = []
    for name, host in hosts.items():
        if not isinstance(name, str):
            # YAML 1.1 (PyYAML) reads an unquoted on, no, 010, 0x1F or 1.5 as a boolean
            # or a number, where tlsc reads the text: str() of it would be another host
            raise AnsibleParserError(
                f"{spec}: a host name is read as {type(name).__name__} {name!r} by YAML 1.1,"
                " as the text written by tlsc; quote it in the spec"
            )
        if not isinstance(host, dict) or not isinstance(host.get("fqdn"), str):
            raise AnsibleParserError(f"{spec}: host {name} has no fqdn")
        groups = host.get("groups") or []
        if not isinstance(groups, list) or not all(
            isinstance(g, str) and _GROUP.match(g) for g in groups
        ):
            raise AnsibleParserError(
                f"{spec}: host {name}: groups must be a list of names of letters, digits"
                " and '_', not starting with a digit"
            )
        out.append((str(name), host["fqdn"], host.get("address"), groups))
    return out
