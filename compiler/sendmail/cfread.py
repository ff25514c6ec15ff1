"""How sendmail reads the `O` lines of a sendmail.cf: one reader for tlsc's every look at a .cf.

readcf.c (8.17.1.9, 8.18.1), checked with both binaries' `-bt -d37.1`:

* fgetfolded: CR LF is a line end; a line that starts with a blank or a tab
  continues the one before it, its newline kept in the value;
* a line that starts with `#` is a comment, continuations included;
  translate_dollars strips the white space at a line's end;
* setoption: `O`, one blank, then the long name up to `=`; blanks before the
  `=` are dropped, but a tab is part of the name (an unknown option); the
  value starts after the blanks that follow the `=` (a tab is kept); no `=`
  sets the empty value. `OX...` with no blank is the one-letter option X;
* the name is matched without case, and an unambiguous prefix of a name is
  taken for it ("used as abbreviation"); an ambiguous or unknown name is
  refused and sets nothing; `Name.sub` is a suboption (`Timeout.starttls`,
  returned whole), ignored by options that have none.

A value is returned as sendmail holds it before macro expansion ($$ stays $$).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

#: sendmail's OptionTab in its own order (readcf.c 8.17.1.9, as Debian builds it:
#: RemoteMode is left out; 8.18.1 knows the same names), for the prefix rule
_TABLE = """
    SevenBitInput EightBitMode AliasFile AliasWait BlankSub MinFreeBlocks
    CheckpointInterval HoldExpensive DeliveryMode ErrorHeader ErrorMode TempFileMode
    SaveFromLine MatchGECOS HelpFile MaxHopCount ResolverOptions IgnoreDots ForwardPath
    SendMimeErrors ConnectionCacheSize ConnectionCacheTimeout UseErrorsTo LogLevel MeToo
    CheckAliases OldStyleHeaders DaemonPortOptions PrivacyOptions PostmasterCopy
    QueueFactor QueueDirectory DontPruneRoutes Timeout StatusFile SuperSafe QueueTimeout
    TimeZoneSpec UserDatabaseSpec DefaultUser FallbackMXhost Verbose TryNullMXList
    QueueLA RefuseLA RecipientFactor ForkEachJob ClassFactor RetryFactor QueueSortOrder
    HostsFile MinQueueAge DefaultCharSet ServiceSwitchFile DialDelay NoRecipientAction
    SafeFileEnvironment MaxMessageSize ColonOkInAddr MaxQueueRunSize MaxDaemonChildren
    DontExpandCnames MustQuoteChars SmtpGreetingMessage UnixFromLine OperatorChars
    DontInitGroups SingleLineFromHeader AllowBogusHELO ConnectionRateThrottle
    UnsafeGroupWrites DoubleBounceAddress HostStatusDirectory SingleThreadDelivery
    RunAsUser RrtImpliesDsn PidFile DontBlameSendmail DontProbeInterfaces
    MaxRecipientsPerMessage DeadLetterDrop DontLockFilesForRead MaxAliasRecursion
    ConnectOnlyTo TrustedUser MaxMimeHeaderLength ControlSocketName MaxHeadersLength
    MaxForwardEntries ProcessTitlePrefix DefaultAuthInfo AuthMechanisms
    ClientPortOptions DataFileBufferSize XscriptFileBufferSize LDAPDefaultSpec
    ServerCertFile ServerKeyFile ClientCertFile ClientKeyFile CACertFile CACertPath
    DHParameters InputMailFilters Milter AuthOptions QueueFileMode
    CertFingerprintAlgorithm CipherList RandFile TLSSrvOptions BadRcptThrottle
    DeliverByMin MaxQueueChildren MaxRunnersPerQueue DirectSubmissionModifiers
    NiceQueueRun SharedMemoryKey AuthMaxBits MailboxDatabase UseMSP DelayLA FastSplit
    SoftBounce SharedMemoryKeyFile RejectLogInterval RequiresDirfsync
    ConnectionRateWindowSize CRLFile FallbackSmartHost AuthRealm CRLPath HeloName
    RefuseLowMem QueueLowMem MemoryResource MaxNOOPCommands MessageAccept
    CheckQueueRunners EightBitAddrOK AddrTypeModes BadRcptShutdown BadRcptShutdownGood
    ServerSSLOptions ClientSSLOptions MaxQueueAge BadRcptThrottleDelay InetQoS FIPSMode
    RejectNUL BounceQueue AddBcc SSLEngine SSLEnginePath TLSFallbacktoClear NameServer
    DANE NameSearchList Hacks KeepBcc ClientCACertFile ClientCACertPath SetCertAltnames
    StrictTransportSecurity CipherSuites
    """
OPTION_NAMES: tuple[str, ...] = tuple(_TABLE.split())
_LOWER = tuple(n.lower() for n in OPTION_NAMES)
#: the options with suboptions (OI_SUBOPT): `Timeout.queuereturn` is its own setting
_SUBOPTIONS = frozenset({"Timeout", "Milter"})


class CfOption(NamedTuple):
    """One `O` line sendmail takes: its first line number, the option's own name, the value."""

    line: int
    name: str
    value: str


def logical_lines(cf: str) -> Iterator[tuple[int, str]]:
    """(number of its first line, text) of each line sendmail reads, folded as fgetfolded folds."""
    start, parts = 0, list[str]()
    for number, raw in enumerate(cf.replace("\r\n", "\n").split("\n"), start=1):
        if parts and raw[:1] in (" ", "\t"):
            parts.append(raw)
            continue
        if parts:
            yield start, "\n".join(parts)
        start, parts = number, [raw]
    if parts:
        yield start, "\n".join(parts)


def option_name(written: str) -> str | None:
    """The option sendmail takes `written` for (its case, its prefix rule), None if none."""
    key, chosen = written.lower(), None
    if not key:
        return None
    for index, name in enumerate(_LOWER):
        if not name.startswith(key):
            continue
        if len(name) == len(key):
            return OPTION_NAMES[index]
        if chosen is not None:
            return None  # ambiguous: sendmail stops at the second prefix it meets
        chosen = OPTION_NAMES[index]
    return chosen


def read_option(text: str) -> tuple[str, str] | None:
    """(option, value) of one logical .cf line that sets a long option, else None."""
    if not text.startswith("O "):
        return None
    text = text.rstrip(" \t\n\r\v\f")
    written, sep, value = text[2:].partition("=")
    written, dot, sub = written.rstrip(" ").partition(".")
    name = option_name(written)
    if name is None:
        return None
    if dot and name in _SUBOPTIONS:
        name = f"{name}.{sub}"
    return name, value.lstrip(" ") if sep else ""


def cf_options(cf: str) -> list[CfOption]:
    """Every long option a .cf sets, in file order (the last of a name is the one that holds)."""
    out = []
    for number, text in logical_lines(cf):
        got = read_option(text)
        if got is not None:
            out.append(CfOption(number, *got))
    return out


def cf_values(cf: str) -> dict[str, str]:
    """Option name -> the value sendmail runs with (the last `O` line of it)."""
    return {o.name: o.value for o in cf_options(cf)}
