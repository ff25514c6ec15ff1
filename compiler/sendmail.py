"""Facts about the sendmail this project targets (Debian 12, sendmail 8.17.1.9).

Lists taken from the installed sendmail-cf tree and binary; see
../shared/reference/sendmail-tls.md. Validation uses them so that a typo is an
error with a suggestion instead of a silently missing option.
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

#: Srv_Features letters (op 5.1.4.17): upper case turns a feature off, lower case on
SRV_FEATURE_LETTERS = "AaBbCcDdEehLlPpSsVvXx"

#: FEATUREs that read the access map, so they must come after FEATURE(`access_db')
NEEDS_ACCESS_DB = ("greet_pause", "ratecontrol", "conncontrol", "lookupdotdomain", "delay_checks")

#: FEATUREs that are obsolete or break this build
REFUSED_FEATURES = {
    "tls_failures": "it has been replaced by tls.fallback_to_clear (confTLS_FALLBACK_TO_CLEAR)",
}

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
}

#: defines this sendmail build refuses to start with
REFUSED_DEFINES = {
    "confDANE": "this sendmail is built without DANE and refuses to start with it",
}
