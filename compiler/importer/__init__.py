"""`tlsc import`: read an existing /etc/mail into a tlsc spec, and prove the round trip.

read_mc       sendmail.mc -> mc: and paths: (statements tlsc cannot model -> mc.extra)
read_starttls starttls.m4 + TLS defines of the .mc -> tls:
read_access   access -> domains:, recipients:, issuer_tags:, access:
emit          the spec as human-quality YAML (ruamel.yaml)
roundtrip     compile the spec, compare access maps and real-m4 .cf builds
host          reads one host's tree and runs the steps above
cluster       several hosts into one spec: shared values to defaults:, the rest per host
command       the click command
"""
