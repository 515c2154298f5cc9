"""Every PostgreSQL advisory-lock key used in the one database both services share.

Advisory locks are database-wide, whichever schema a service owns: two features that picked the
same number would block each other (or, worse, think they hold a lock the other holds). So every
key is listed here, and `unique` refuses a duplicate when this module is imported. Keys are
names of locks, not of services' internals; the values are the ones in use since before this
registry, so running processes of an older release still exclude each other.
"""

from __future__ import annotations

from enum import IntEnum, unique


@unique
class AdvisoryLock(IntEnum):
    """Keys of single-key (bigint) locks: `pg_advisory_lock(key)` and its variants."""

    # Licence gateway: everything that creates or sends a licenceData mail (session-level lock,
    # held across the batch's commits).
    LICENCE_BATCHING = 0x4C47_4261  # "LGBa"
    # Invoice checker: directory syncs (users, projects, leave types, holidays) read, compare
    # and write; two at once would insert the same new rows.
    DIRECTORY_SYNC = 0x10F7_D1
    # Invoice checker: invoice stats refreshes, which would otherwise update the same rows in
    # different orders and could deadlock.
    INVOICE_STATS_REFRESH = 0x1C_57A7


@unique
class AdvisoryLockClass(IntEnum):
    """First keys of two-key (int4, int4) locks, `pg_advisory_lock(class, id)`: PostgreSQL keeps
    these apart from the single-key ones, so the two lists cannot collide with each other."""

    # Invoice checker: one lock per day an hour sync writes (second key: the date's ordinal).
    HOUR_SYNC_DAY = 0x10F7
    # Invoice checker: held (transaction-level) by whoever performs a sync run, second key the
    # run's id; the sweeper queues again a running run whose lock nobody holds.
    SYNC_RUN = 0x5359
