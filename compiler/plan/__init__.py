"""`tlsc plan`: what would change on each host, for review and as input to apply.

    observe (--root, --state, --base) ─┐
    desired (the spec, rendered)  ─────┴─▶ planner ─▶ Plan ─▶ formats/ (text, json, markdown)
                                                         └─▶ saved (--out, drift check)

Nothing here writes to a host. Heavy imports (cryptography) stay inside the
modules that need them, so importing this package is cheap.
"""
