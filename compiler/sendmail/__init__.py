"""Facts about the sendmail this project targets (Debian 12's 8.17.1.9, Debian 13's 8.18.1).

The one home of sendmail's facts: this module's lists (the cf tree's FEATUREs,
OSTYPEs, defines, SSL options, ...), `releases` (what differs between 8.17 and
8.18), `accessmap`/`accessbulk` (the access-map grammar), `names` (host names,
keys), `xtext`, `m4quote`/`m4text` (quoting and the build's safety lines) and
`m4names`/`confnames` (the names m4 and cf define). Nothing here imports a
command's package; what is here holds for both releases (each list checked
against both releases' cf trees) unless `releases` says otherwise.

Lists taken from the installed sendmail-cf tree and binary. Validation uses
them so that a typo is an error with a suggestion instead of a silently
missing option.
"""

from __future__ import annotations

#: SSL_OP_ names the sendmail binary knows (`strings /usr/sbin/sendmail`)
SSL_OPTIONS = frozenset(
    {
        "SSL_OP_ALL",
        "SSL_OP_ALLOW_NO_DHE_KEX",
        "SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION",
        "SSL_OP_CIPHER_SERVER_PREFERENCE",
        "SSL_OP_CISCO_ANYCONNECT",
        "SSL_OP_COOKIE_EXCHANGE",
        "SSL_OP_CRYPTOPRO_TLSEXT_BUG",
        "SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS",
        "SSL_OP_ENABLE_MIDDLEBOX_COMPAT",
        "SSL_OP_EPHEMERAL_RSA",
        "SSL_OP_LEGACY_SERVER_CONNECT",
        "SSL_OP_MICROSOFT_BIG_SSLV3_BUFFER",
        "SSL_OP_MICROSOFT_SESS_ID_BUG",
        "SSL_OP_MSIE_SSLV2_RSA_PADDING",
        "SSL_OP_NETSCAPE_CA_DN_BUG",
        "SSL_OP_NETSCAPE_CHALLENGE_BUG",
        "SSL_OP_NETSCAPE_DEMO_CIPHER_CHANGE_BUG",
        "SSL_OP_NETSCAPE_REUSE_CIPHER_CHANGE_BUG",
        "SSL_OP_NO_ANTI_REPLAY",
        "SSL_OP_NO_COMPRESSION",
        "SSL_OP_NO_ENCRYPT_THEN_MAC",
        "SSL_OP_NO_QUERY_MTU",
        "SSL_OP_NO_RENEGOTIATION",
        "SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION",
        "SSL_OP_NO_SSLv2",
        "SSL_OP_NO_SSLv3",
        "SSL_OP_NO_TICKET",
        "SSL_OP_NO_TLSv1",
        "SSL_OP_NO_TLSv1_1",
        "SSL_OP_NO_TLSv1_2",
        "SSL_OP_NO_TLSv1_3",
        "SSL_OP_PKCS1_CHECK_1",
        "SSL_OP_PKCS1_CHECK_2",
        "SSL_OP_PRIORITIZE_CHACHA",
        "SSL_OP_SINGLE_DH_USE",
        "SSL_OP_SINGLE_ECDH_USE",
        "SSL_OP_SSLEAY_080_CLIENT_DH_BUG",
        "SSL_OP_SSLREF2_REUSE_CERT_TYPE_BUG",
        "SSL_OP_TLSEXT_PADDING",
        "SSL_OP_TLS_BLOCK_PADDING_BUG",
        "SSL_OP_TLS_D5_BUG",
        "SSL_OP_TLS_ROLLBACK_BUG",
    }
)

#: FEATURE() names: files in /usr/share/sendmail/cf/feature
FEATURES = frozenset(
    {
        "accept_unqualified_senders",
        "accept_unresolvable_domains",
        "access_db",
        "allmasquerade",
        "always_add_domain",
        "authinfo",
        "badmx",
        "bcc",
        "bestmx_is_local",
        "bitdomain",
        "blacklist_recipients",
        "block_bad_helo",
        "blocklist_recipients",
        "check_cert_altnames",
        "check_other",
        "compat_check",
        "conncontrol",
        "delay_checks",
        "dnsbl",
        "domainmap",
        "domaintable",
        "drac",
        "enhdnsbl",
        "generics_entire_domain",
        "genericstable",
        "greet_pause",
        "fips3",  # 8.18 only (releases.MISSING_FEATURES)
        "ldap_routing",
        "limited_masquerade",
        "local_lmtp",
        "local_no_masquerade",
        "local_procmail",
        "lookupdotdomain",
        "loose_relay_check",
        "mailertable",
        "masquerade_entire_domain",
        "masquerade_envelope",
        "msp",
        "mtamark",
        "no_default_msa",
        "nocanonify",
        "nopercenthack",
        "notsticky",
        "nouucp",
        "nullclient",
        "prefixmod",
        "preserve_local_plus_detail",
        "preserve_luser_host",
        "promiscuous_relay",
        "queuegroup",
        "ratecontrol",
        "redirect",
        "relay_based_on_MX",
        "relay_entire_domain",
        "relay_hosts_only",
        "relay_local_from",
        "relay_mail_from",
        "require_rdns",
        "rhsbl",
        "smrsh",
        "stickyhost",
        "sts",
        "tls_failures",
        "tls_session_features",
        "use_client_ptr",
        "use_ct_file",
        "use_cw_file",
        "uucpdomain",
        "virtuser_entire_domain",
        "virtusertable",
        "vnet",
    }
)

#: OSTYPE() names: files in /usr/share/sendmail/cf/ostype
OSTYPES = frozenset(
    {
        "a-ux",
        "aix3",
        "aix4",
        "aix5",
        "altos",
        "amdahl-uts",
        "bsd4.3",
        "bsd4.4",
        "bsdi",
        "bsdi1.0",
        "bsdi2.0",
        "darwin",
        "debian",
        "dgux",
        "domainos",
        "dragonfly",
        "dynix3.2",
        "freebsd4",
        "freebsd5",
        "freebsd6",
        "gnu",
        "hpux10",
        "hpux11",
        "hpux9",
        "irix4",
        "irix5",
        "irix6",
        "isc4.1",
        "linux",
        "maxion",
        "mklinux",
        "mpeix",
        "nextstep",
        "openbsd",
        "osf1",
        "powerux",
        "ptx2",
        "qnx",
        "riscos4.5",
        "sco-uw-2.1",
        "sco3.2",
        "sinix",
        "solaris11",
        "solaris2",
        "solaris2.ml",
        "solaris2.pre5",
        "solaris8",
        "sunos3.5",
        "sunos4.1",
        "svr4",
        "ultrix4",
        "unicos",
        "unicosmk",
        "unicosmp",
        "unixware7",
        "unknown",
        "uxpds",
    }
)

#: DOMAIN() names: files in /usr/share/sendmail/cf/domain
DOMAINS = frozenset(
    {
        "Berkeley.EDU",
        "CS.Berkeley.EDU",
        "EECS.Berkeley.EDU",
        "S2K.Berkeley.EDU",
        "berkeley-only",
        "debian-msp",
        "debian-mta",
        "generic",
    }
)

#: MAILER() names: files in /usr/share/sendmail/cf/mailer
MAILERS = frozenset(
    {
        "cyrus",
        "cyrusv2",
        "fax",
        "local",
        "mail11",
        "phquery",
        "pop",
        "procmail",
        "qpage",
        "smtp",
        "ssh",
        "usenet",
        "uucp",
        "xagent",
    }
)

#: Srv_Features letters (op 5.1.4.17): upper case turns a feature off, lower case on.
#: What both Debian binaries accept (8.17.1.9-2+deb12u2 carries 8.18.1's SMTP smuggling
#: letters F O U G and the variants u2 g2; tests/test_sendmail_818.py asks the daemons)
SRV_FEATURE_LETTERS = "AaBbCcDdEeFfGgHhLlNnOoPpRrSsUuVvXx"
SRV_FEATURE_VARIANTS = ("u2", "g2")

#: where FEATURE(`access_db') with no argument reads the map (Debian's sendmail.cf)
DEFAULT_ACCESS_DB = "/etc/mail/access.db"


def access_map_arg(access_db: str) -> str:
    """The access_db FEATURE argument that makes sendmail read `access_db`."""
    return f"hash -T<TMPF> {access_db.removesuffix('.db')}"


#: FEATUREs that read the access map, so they must come after FEATURE(`access_db')
#: (their feature files print `*** ERROR: ... requires FEATURE(`access_db')` otherwise)
NEEDS_ACCESS_DB = (
    "greet_pause",
    "ratecontrol",
    "conncontrol",
    "lookupdotdomain",
    "delay_checks",
    "blocklist_recipients",
    "compat_check",
    "queuegroup",
)

_ALWAYS_WARNS = (
    "m4 always prints an open-relay warning for it, and tlsc refuses any .cf build that"
    " prints something; use SMTP AUTH or certificate relaying (CertIssuer:/CertSubject:)"
)

#: FEATUREs that are obsolete or break this build (m4 prints an error or warning for them,
#: and tlsc never installs a .cf whose build printed anything)
REFUSED_FEATURES = {
    "tls_failures": "it has been replaced by tls.fallback_to_clear (confTLS_FALLBACK_TO_CLEAR)",
    "blacklist_recipients": "it is deprecated (m4 warns); use blocklist_recipients",
    "relay_mail_from": _ALWAYS_WARNS,
    "relay_local_from": _ALWAYS_WARNS,
    "promiscuous_relay": "it makes the host an open relay (m4 warns)",
}

#: FEATUREs whose first argument may only be `nodelay` (which needs delay_checks before
#: them) and whose second only `terminate` (feature/ratecontrol.m4, conncontrol.m4)
NODELAY_FEATURES = ("ratecontrol", "conncontrol")

#: FEATUREs sendmail-cf errprints about (so apply's build stops) without a first
#: argument: what that argument is (feature/dnsbl.m4, nouucp.m4, prefixmod.m4, ...)
FEATURE_FIRST_ARG = {
    "dnsbl": "the DNS blocklist's zone",
    "enhdnsbl": "the DNS blocklist's zone",
    "nullclient": "the mail hub's name",
    "prefixmod": "the prefix",
    "nouucp": "reject or nospecial",
    "nopercenthack": "reject or nospecial",
}
#: FEATUREs that write MAILER(`local') and MAILER(`smtp') themselves: a second one is an
#: error of sendmail-cf's (`*** ERROR: MAILER(local) already included`)
FEATURES_WITH_MAILERS = ("msp", "nullclient")

#: defines that tls: owns; starttls.m4 is included after mc.defines and would override them
TLS_DEFINES = {
    "confCACERT_PATH": "tls.ca_cert_path",
    "confCACERT": "tls.ca_cert",
    "confSERVER_CERT": "tls.server_cert",
    "confSERVER_KEY": "tls.server_key",
    "confCLIENT_CERT": "tls.client_cert",
    "confCLIENT_KEY": "tls.client_key",
    "confDH_PARAMETERS": "tls.dh_params",
    "confCRL": "tls.crl",
    "confTLS_SRV_OPTIONS": "tls.request_client_cert",
    "confTO_STARTTLS": "tls.timeout",
    "confCIPHER_LIST": "tls.cipher_list",
    "confSERVER_SSL_OPTIONS": "tls.server_ssl_options",
    "confCLIENT_SSL_OPTIONS": "tls.client_ssl_options",
    "confDANE": "tls.dane",
}

#: the sendmail.cf option each TLS define sets (proto.m4's _OPTION lines)
TLS_OPTIONS = {
    "confCACERT_PATH": "CACertPath",
    "confCACERT": "CACertFile",
    "confSERVER_CERT": "ServerCertFile",
    "confSERVER_KEY": "ServerKeyFile",
    "confCLIENT_CERT": "ClientCertFile",
    "confCLIENT_KEY": "ClientKeyFile",
    "confDH_PARAMETERS": "DHParameters",
    "confCRL": "CRLFile",
    "confTLS_SRV_OPTIONS": "TLSSrvOptions",
    "confTO_STARTTLS": "Timeout.starttls",
    "confCIPHER_LIST": "CipherList",
    "confSERVER_SSL_OPTIONS": "ServerSSLOptions",
    "confCLIENT_SSL_OPTIONS": "ClientSSLOptions",
    "confDANE": "DANE",
}
#: the TLS define that sets each of those sendmail.cf options
OPTION_DEFINES = {option: define for define, option in TLS_OPTIONS.items()}
#: TLS options whose value is a file or directory: `/etc/mail//certs` (cf/README's
#: `MAIL_SETTINGS_DIR/certs` idiom) names the same one as `/etc/mail/certs`
PATH_OPTIONS = frozenset(
    {"CACertPath", "CACertFile", "ServerCertFile", "ServerKeyFile", "ClientCertFile"}
    | {"ClientKeyFile", "CRLFile", "DHParameters"}
)


def same_option(name: str, a: str | None, b: str | None) -> bool:
    """True when two values of cf option `name` mean the same: equal, or paths that
    differ only in runs of slashes."""
    if a == b:
        return True
    if name not in PATH_OPTIONS or a is None or b is None:
        return False
    import re

    return re.sub("//+", "/", a) == re.sub("//+", "/", b)


#: TLSv1.3 cipher suites OpenSSL 3 implements (`CipherSuites=`, tls.ciphersuites)
TLS13_SUITES = (
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
)

#: tls.min_protocol -> the SSL_OP_NO_* options that keep the older versions out
PROTOCOL_FLOOR_OPTIONS = {
    "TLSv1": ("+SSL_OP_NO_SSLv3",),
    "TLSv1.1": ("+SSL_OP_NO_SSLv3", "+SSL_OP_NO_TLSv1"),
    "TLSv1.2": ("+SSL_OP_NO_SSLv3", "+SSL_OP_NO_TLSv1", "+SSL_OP_NO_TLSv1_1"),
    "TLSv1.3": ("+SSL_OP_NO_SSLv3", "+SSL_OP_NO_TLSv1", "+SSL_OP_NO_TLSv1_1", "+SSL_OP_NO_TLSv1_2"),
}

#: tls: settings without which sendmail offers no STARTTLS at all: with any one of them
#: unset, 8.17 logs "STARTTLS: <Option> missing" at start and leaves STARTTLS out of its
#: EHLO reply (each one tried with a real `sendmail -bD`; the CA file and the CA
#: directory are both needed, either alone is not enough)
STARTTLS_REQUIRED = {
    "server_cert": "ServerCertFile",
    "server_key": "ServerKeyFile",
    "ca_cert": "CACertFile",
    "ca_cert_path": "CACertPath",
}

#: defines whose value sendmail's cf files expand twice (found with the real m4:
#: `O HelpFile=ifdef(`HELP_FILE', HELP_FILE, ...)`, mailer flags through CONCAT,
#: ...), so the second quote level tlsc writes does not keep an m4 call in them
#: from running while the .cf is built. FEATURE arguments are rescanned as well.
RESCANNED_DEFINES = frozenset(
    {
        "HELP_FILE",
        "QUEUE_DIR",
        "SMTP_MAILER_FLAGS",
        "MAIL11_MAILER_FLAGS",
        "QPAGE_MAILER_FLAGS",
        "USENET_MAILER_FLAGS",
        "confCT_FILE",
        "confLOCAL_MAILER",
        # proto.m4 passes it unquoted to index(), substr() and define()
        "confMESSAGE_TIMEOUT",
        # mailer/*.m4: F=_MODMF_(CONCAT(_DEF_X_FLAGS, X_FLAGS), ...) rescans each
        "LOCAL_MAILER_FLAGS",
        "LOCAL_SHELL_FLAGS",
        "RELAY_MAILER_FLAGS",
        "PROCMAIL_MAILER_FLAGS",
        "UUCP_MAILER_FLAGS",
        "POP_MAILER_FLAGS",
        "PH_MAILER_FLAGS",
        "CYRUS_MAILER_FLAGS",
        "CYRUS_BB_MAILER_FLAGS",
        "CYRUSV2_MAILER_FLAGS",
    }
)

#: FEATUREs whose files rescan their arguments: with the real m4, a macro name
#: such as `dnl` in the argument silently changed the .cf or broke the build
#: (tests/test_rescanned_values.py finds this set again and compares)
RESCANNED_FEATURE_ARGS = frozenset(
    {
        "always_add_domain",
        "bcc",
        "bestmx_is_local",
        "conncontrol",
        "dnsbl",
        "domainmap",
        "enhdnsbl",
        "fips3",  # 8.18 (feature/fips3.m4 rescans both arguments)
        "local_lmtp",
        "local_procmail",
        "msp",
        "nocanonify",
        "nullclient",
        "prefixmod",
        "ratecontrol",
        "rhsbl",
        "smrsh",
    }
)

#: defines every release refuses (the release-dependent ones: releases.Release.refused_define)
REFUSED_DEFINES: dict[str, str] = {}

#: defines that Debian's sendmail takes and then does nothing with (tests/test_protocol_floor.py)
IGNORED_DEFINES = {
    "confOPENSSL_CNF": "Debian's sendmail binary is setgid smmsp and OpenSSL reads no"
    " OPENSSL_CONF in a setgid process, so the file it names is ignored (8.17 has no"
    " confOPENSSL_CNF at all); for a protocol floor set tls.min_protocol",
}

#: Non-conf* names cf.README documents as settings one may define() in a .mc.
#: Anything else (m4 builtins such as dnl or include, cf macros such as FEATURE)
#: would be redefined by a define, so mc.defines refuses it; raw m4 goes in mc.extra.
DOCUMENTED_DEFINES = frozenset(
    {
        "ALIAS_FILE",
        "BITNET_RELAY",
        "CYRUSV2_MAILER_ARGS",
        "CYRUSV2_MAILER_CHARSET",
        "CYRUSV2_MAILER_FLAGS",
        "CYRUSV2_MAILER_MAXMSGS",
        "CYRUSV2_MAILER_MAXRCPTS",
        "CYRUSV2_MAILER_QGRP",
        "CYRUS_BB_MAILER_ARGS",
        "CYRUS_BB_MAILER_FLAGS",
        "CYRUS_MAILER_ARGS",
        "CYRUS_MAILER_FLAGS",
        "CYRUS_MAILER_MAX",
        "CYRUS_MAILER_PATH",
        "CYRUS_MAILER_QGRP",
        "CYRUS_MAILER_USER",
        "DATABASE_MAP_TYPE",
        "DECNET_RELAY",
        "DNSBL_MAP",
        "DSMTP_MAILER_ARGS",
        "DSMTP_MAILER_QGRP",
        "ESMTP_MAILER_ARGS",
        "ESMTP_MAILER_QGRP",
        "FAX_MAILER_ARGS",
        "FAX_MAILER_MAX",
        "FAX_MAILER_PATH",
        "FAX_RELAY",
        "HELP_FILE",
        "LOCAL_MAILER_ARGS",
        "LOCAL_MAILER_CHARSET",
        "LOCAL_MAILER_DSN_DIAGNOSTIC_CODE",
        "LOCAL_MAILER_EOL",
        "LOCAL_MAILER_FLAGS",
        "LOCAL_MAILER_MAX",
        "LOCAL_MAILER_MAXMSGS",
        "LOCAL_MAILER_PATH",
        "LOCAL_MAILER_QGRP",
        "LOCAL_PROG_QGRP",
        "LOCAL_RELAY",
        "LOCAL_SHELL_ARGS",
        "LOCAL_SHELL_DIR",
        "LOCAL_SHELL_FLAGS",
        "LOCAL_SHELL_PATH",
        "LUSER_RELAY",
        "MAIL11_MAILER_ARGS",
        "MAIL11_MAILER_FLAGS",
        "MAIL11_MAILER_PATH",
        "MAIL11_MAILER_QGRP",
        "MAIL_HUB",
        "MSP_QUEUE_DIR",
        "PH_MAILER_ARGS",
        "PH_MAILER_FLAGS",
        "PH_MAILER_PATH",
        "PH_MAILER_QGRP",
        "POP_MAILER_ARGS",
        "POP_MAILER_FLAGS",
        "POP_MAILER_PATH",
        "POP_MAILER_QGRP",
        "PROCMAIL_MAILER_ARGS",
        "PROCMAIL_MAILER_FLAGS",
        "PROCMAIL_MAILER_MAX",
        "PROCMAIL_MAILER_PATH",
        "PROCMAIL_MAILER_QGRP",
        "QPAGE_MAILER_ARGS",
        "QPAGE_MAILER_FLAGS",
        "QPAGE_MAILER_MAX",
        "QPAGE_MAILER_PATH",
        "QPAGE_MAILER_QGRP",
        "QUEUE_DIR",
        "RELAY_MAILER_ARGS",
        "RELAY_MAILER_CHARSET",
        "RELAY_MAILER_FLAGS",
        "RELAY_MAILER_LL",
        "RELAY_MAILER_MAXMSGS",
        "RELAY_MAILER_QGRP",
        "SMART_HOST",
        "SMTP8_MAILER_ARGS",
        "SMTP8_MAILER_QGRP",
        "SMTP_MAILER_ARGS",
        "SMTP_MAILER_CHARSET",
        "SMTP_MAILER_FLAGS",
        "SMTP_MAILER_LL",
        "SMTP_MAILER_MAX",
        "SMTP_MAILER_MAXMSGS",
        "SMTP_MAILER_MAXRCPTS",
        "SMTP_MAILER_QGRP",
        "STATUS_FILE",
        "TLS_PERM_ERR",
        "USENET_MAILER_ARGS",
        "USENET_MAILER_FLAGS",
        "USENET_MAILER_MAX",
        "USENET_MAILER_PATH",
        "USENET_MAILER_QGRP",
        "UUCP_MAILER_ARGS",
        "UUCP_MAILER_CHARSET",
        "UUCP_MAILER_FLAGS",
        "UUCP_MAILER_MAX",
        "UUCP_MAILER_PATH",
        "UUCP_MAILER_QGRP",
        "UUCP_RELAY",
        "_CERT_REGEX_ISSUER_",
        "_CERT_REGEX_SUBJECT_",
    }
)


def option_true(value: str) -> bool:
    """sendmail's reading of a boolean option: empty, or starting with t or y, is true."""
    return value.strip()[:1] in ("", "t", "T", "y", "Y")
