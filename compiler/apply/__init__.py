"""`tlsc apply`: make this host match the spec, atomically, under a lock, verified,
and rolled back on failure.

The steps, in order (each is named in the report, with its timing):

    lock          take the root's lock, ROOT/run/tlsc-apply.lock (flock; the kernel drops
                  it if we die), and hold open each directory written in (dirfd)
    plan          choose the host, compute the plan (or check a saved one)
    confirm       show the plan; --yes, or a yes on the terminal
    baseline      probe sendmail before changing anything (what "back" means)
    backup        copy every file about to change to the backup directory
    write         write each changed file: temp, fsync, rename, fsync the directory
    build-cf      m4 sendmail.mc into a temp .cf (any stderr fails), rename
    build-access  makemap hash into a temp db beside access.db, rename
    restart       commands.restart, only when sendmail.cf changed
    after         commands.after, when set and something changed
    verify        the verify probe: greeting, STARTTLS, handshake (with retries)

and, when one of backup..verify fails: rollback (every file back from the
backup, byte for byte), rollback-restart, rollback-verify.
"""
