"""The lint rules, one module each; `RULES` is what the engine runs, in code order."""

from __future__ import annotations

from importlib import import_module

from compiler.lint.engine import Rule, load_rule

#: the rule modules, in the order their findings are reported
_NAMES = (
    "m4001_typographic_quote",
    "m4002_apostrophe_opens",
    "m4003_unbalanced_quote",
    "m4004_starttls_include",
    "m4005_missing_dnl",
    "m4006_unknown_option",
    "m4007_mailer_order",
    "m4008_access_db",
    "m4009_unbalanced_paren",
    "m4010_live_hash_comment",
    "m4011_unquoted_argument",
    "m4012_unknown_name",
    "m4013_call_syntax",
    "m4014_feature_order",
    "m4015_starttls_override",
    "m4016_changequote",
    "m4017_ostype",
    "m4018_access_db_map",
    "m4019_shell_command",
    "m4022_sts_socket",
    "m4023_byte_order_mark",
    "m4024_cf_comment",
    "a001_malformed_line",
    "a002_unknown_tag",
    "a003_tls_requirement",
    "a004_duplicate_key",
    "a005_try_tls",
    "a006_invalid_key",
    "a007_invalid_value",
    "a008_byte_order_mark",
)
MODULES = tuple(import_module(f"{__name__}.{name}") for name in _NAMES)

RULES: tuple[Rule, ...] = tuple(load_rule(m) for m in MODULES)
BY_ID = {rule.id: rule for rule in RULES}
