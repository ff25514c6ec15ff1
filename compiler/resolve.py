"""Resolve one host: the cluster's defaults deep-merged with the host's overrides.

Mappings merge key by key (a host's `mc.defines` adds to the defaults');
lists and scalars replace (a host's `mc.features` is its whole list).
Only what the host actually wrote overrides anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compiler.spec.model import Cluster, Host, HostSettings

_SETTING_KEYS = tuple(HostSettings.model_fields)


@dataclass(frozen=True)
class HostConfig:
    """Everything the renderers need to know about one host."""

    name: str
    fqdn: str
    address: str | None
    cluster: str
    settings: HostSettings


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `base`: dicts merge recursively, everything else replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def host_overrides(host: Host) -> dict[str, Any]:
    """The settings a host wrote itself (nothing filled in by defaults)."""
    written = host.model_dump(exclude_unset=True, include=set(_SETTING_KEYS))
    return {k: v for k, v in written.items() if k in _SETTING_KEYS}


def resolve(cluster: Cluster, name: str) -> HostConfig:
    """The effective configuration of host `name`."""
    host = cluster.hosts[name]
    overrides = host_overrides(host)
    if overrides:
        merged = deep_merge(cluster.defaults.model_dump(), overrides)
        settings = HostSettings.model_validate(merged, strict=False)
    else:
        settings = cluster.defaults
    return HostConfig(
        name=name,
        fqdn=host.fqdn,
        address=host.address,
        cluster=cluster.cluster,
        settings=settings,
    )
