"""What m4 and sendmail's cf tree define: the names the linter must recognise.

Lists come from GNU m4 1.4.19 and Debian's sendmail-cf 8.17.1.9
(/usr/share/sendmail/cf/m4/cfhead.m4). They are constants so that the linter
runs where sendmail is not installed (a developer's laptop, a CI runner).
"""

from __future__ import annotations


def words(text: str) -> frozenset[str]:
    """The blank-separated words of `text`."""
    return frozenset(text.split())


#: GNU m4 builtins that m4 expands only when `(` follows the name
BUILTINS_WITH_ARGS = words(
    """builtin decr define defn errprint esyscmd eval format ifdef ifelse include incr index
    indir len m4wrap maketemp mkstemp patsubst popdef pushdef regexp shift sinclude substr
    syscmd translit undefine"""
)
#: GNU m4 builtins that m4 expands even without arguments
BUILTINS_BARE = words(
    """__file__ __gnu__ __line__ __program__ __unix__ changecom changequote debugfile debugmode
    divert divnum dnl dumpdef m4exit sysval traceoff traceon undivert"""
)
BUILTINS = BUILTINS_WITH_ARGS | BUILTINS_BARE

#: macros cfhead.m4 defines for .mc files (they expand with or without arguments)
CF_MACROS = words(
    """ALIAS_FILE CANONIFY_DOMAIN CANONIFY_DOMAIN_FILE CF_LEVEL CLIENT_OPTIONS CONCAT
    DAEMON_OPTIONS DATABASE_MAP_TYPE DOL DOMAIN EXPOSED_USER EXPOSED_USER_FILE FEATURE
    GENERICS_DOMAIN GENERICS_DOMAIN_FILE HACK INPUT_MAIL_FILTER LDAPROUTE_DOMAIN
    LDAPROUTE_DOMAIN_FILE LDAPROUTE_EQUIVALENT LDAPROUTE_EQUIVALENT_FILE LOCAL_CLT_FEATURES
    LOCAL_CONFIG LOCAL_DNSBL LOCAL_DOMAIN LOCAL_NET_CONFIG LOCAL_RULESETS LOCAL_RULE_0
    LOCAL_RULE_1 LOCAL_RULE_2 LOCAL_RULE_3 LOCAL_SRV_FEATURES LOCAL_TLS_CLIENT
    LOCAL_TLS_RCPT LOCAL_TLS_SERVER LOCAL_TRY_TLS LOCAL_USER LOCAL_USER_FILE LOCAL_UUCP
    MAILER MAILER_DEFINITIONS MAIL_FILTER MAIL_SETTINGS_DIR MASQUERADE_AS MASQUERADE_DOMAIN
    MASQUERADE_DOMAIN_FILE MASQUERADE_EXCEPTION MASQUERADE_EXCEPTION_FILE
    MODIFY_MAILER_FLAGS OSTYPE POPDIVERT PUSHDIVERT QUEUE_GROUP RELAY_DOMAIN
    RELAY_DOMAIN_FILE SITE SITECONFIG TRUST_AUTH_MECH UUCPSMTP VERSIONID VIRTUSER_DOMAIN
    VIRTUSER_DOMAIN_FILE lower strcasecmp"""
)

#: macros that switch output to a section of the .cf (the newline after them is content)
SECTION_MACROS = words(
    """LOCAL_CONFIG LOCAL_DNSBL LOCAL_NET_CONFIG LOCAL_RULESETS LOCAL_RULE_0 LOCAL_RULE_1
    LOCAL_RULE_2 LOCAL_RULE_3 LOCAL_UUCP LOCAL_CLT_FEATURES LOCAL_SRV_FEATURES
    LOCAL_TLS_CLIENT LOCAL_TLS_RCPT LOCAL_TLS_SERVER LOCAL_TRY_TLS MAILER_DEFINITIONS"""
)

#: macros that expand to nothing in the output: a call line without dnl leaves a
#: blank line in the .cf (each is checked against real m4 in the tests). The
#: *_DOMAIN, *_USER, *_FILE and TRUST_AUTH_MECH macros end in their own dnl.
SILENT_MACROS = words(
    """define undefine pushdef popdef include sinclude divert FEATURE OSTYPE DOMAIN MAILER HACK
    DAEMON_OPTIONS CLIENT_OPTIONS INPUT_MAIL_FILTER MAIL_FILTER QUEUE_GROUP MASQUERADE_AS
    MODIFY_MAILER_FLAGS"""
)

#: macros whose first argument is a name (of a macro, feature, file, ...)
NAME_FIRST_ARG = words(
    """define undefine pushdef popdef defn ifdef include sinclude FEATURE OSTYPE DOMAIN MAILER
    HACK"""
)

#: how many arguments a macro uses; more are silently dropped (or warned about)
MAX_ARGS = {
    "define": 2,
    "pushdef": 2,
    "undefine": 1,
    "popdef": 1,
    "include": 1,
    "sinclude": 1,
    "OSTYPE": 1,
    "DOMAIN": 1,
    "MAILER": 1,
    "VERSIONID": 1,
    "DAEMON_OPTIONS": 1,
    "CLIENT_OPTIONS": 1,
    "MASQUERADE_AS": 1,
    "MAIL_FILTER": 2,
    "INPUT_MAIL_FILTER": 2,
    "QUEUE_GROUP": 2,
}

#: typographic and other look-alike quote characters -> the role they usually play
TYPO_OPENERS = "\u2018\u201b\u201a\u201c\u201e\u201f\u2035\u2036\uff40\u02cb\u02bb"
TYPO_CLOSERS = "\u2019\u201d\u2032\u2033\uff07\u02bc"
TYPO_EITHER = "\u00b4\u02ca"  # acute accents: typed for either quote
TYPO_QUOTES = TYPO_OPENERS + TYPO_CLOSERS + TYPO_EITHER


def is_known_macro(name: str) -> bool:
    """True when `name` is an m4 builtin or a sendmail cf macro."""
    return name in BUILTINS or name in CF_MACROS


#: cf-tree files that are deprecated aliases: (macro, name) -> the name sendmail-cf builds
#: instead. Each prints a deprecation line on stderr and includes the modern file, so
#: the .cf is the modern name's (plus the alias's VERSIONID comment); the tests find
#: this class in the installed cf tree and check the table against it.
DEPRECATED_ALIASES = {
    ("FEATURE", "blacklist_recipients"): "blocklist_recipients",
    ("OSTYPE", "bsdi1.0"): "bsdi",
    ("OSTYPE", "bsdi2.0"): "bsdi",
}

#: FEATUREs whose sendmail-cf file prints `*** ERROR` even though m4 exits 0
#: (the others of compiler.sendmail.REFUSED_FEATURES print only a warning)
ERROR_FEATURES = frozenset({"tls_failures"})
