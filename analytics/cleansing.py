"""Cleansing: unreachable contacts, duplicate customers merged by a reported map, bad ledger rows.

Customers are duplicates when they share a usable phone, a usable e-mail or (depending on
``name_district``) a normalised name within the same district; matches are transitive
(connected components), and each group keeps one record: a reachable one if any, then the
earliest registered, then the first row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse import csgraph

from analytics.arrays import FloatArray, IntArray
from analytics.contacts import email_keys, name_keys, phone_keys
from analytics.errors import require_finite, require_length, require_nonnegative
from analytics.sorting import sort_order

NameDistrictRule = Literal["off", "fallback", "always"]

# Per-record reason bits of CustomerReport.flags.
PHONE_MISSING = 1
PHONE_INVALID = 2
EMAIL_MISSING = 4
EMAIL_INVALID = 8
UNREACHABLE = 16  # neither a usable phone nor a usable e-mail
MERGED = 32  # folded into another record (see CustomerReport.canonical)
SAME_PHONE = 64
SAME_EMAIL = 128
SAME_NAME_DISTRICT = 256
REASONS: tuple[tuple[int, str], ...] = (
    (PHONE_MISSING, "phone_missing"), (PHONE_INVALID, "phone_invalid"),
    (EMAIL_MISSING, "email_missing"), (EMAIL_INVALID, "email_invalid"),
    (UNREACHABLE, "unreachable"), (MERGED, "merged"), (SAME_PHONE, "same_phone"),
    (SAME_EMAIL, "same_email"), (SAME_NAME_DISTRICT, "same_name_district"))


def reasons(flags: int) -> tuple[str, ...]:
    """The reason names set in one record's ``flags``."""
    return tuple(name for bit, name in REASONS if flags & bit)


@dataclass(frozen=True, eq=False)
class CustomerReport:
    """What cleansing found. ``canonical[i]`` is the input row record ``i`` was merged into
    (itself when kept); ``kept`` the kept rows in input order; ``flags`` the reason bits."""

    canonical: IntArray
    kept: IntArray
    flags: npt.NDArray[np.int32]
    merges: tuple[tuple[str, str], ...]  # (old customer id, kept customer id)
    received: int
    merged: int
    phone_invalid: int
    email_invalid: int
    unreachable: int  # among kept customers

    def reasons(self, row: int) -> tuple[str, ...]:
        return reasons(int(self.flags[row]))

    def counts(self) -> dict[str, int]:
        return {"received": self.received, "kept": len(self.kept), "merged": self.merged,
                "phone_invalid": self.phone_invalid, "email_invalid": self.email_invalid,
                "unreachable": self.unreachable}


@dataclass(frozen=True, eq=False)
class TransactionReport:
    """Ledger rows dropped and why; ``rows`` are the input rows kept, in input order."""

    rows: IntArray
    received: int
    duplicates: int  # identical (customer, product, time, amount) after merging customers
    non_finite: int
    negative: int
    reassigned: int  # rows moved from a merged customer to the kept one
    after_as_of: int  # rows at or after the analysis date, left out

    def counts(self) -> dict[str, int]:
        return {"received": self.received, "kept": len(self.rows),
                "duplicates": self.duplicates, "non_finite": self.non_finite,
                "negative": self.negative, "reassigned": self.reassigned,
                "after_as_of": self.after_as_of}


def cleanse_customers(ids: Sequence[str], phones: Sequence[str] | None,
                      emails: Sequence[str] | None, names: Sequence[str] | None = None,
                      districts: IntArray | None = None, created: IntArray | None = None, *,
                      name_district: NameDistrictRule = "fallback",
                      default_country: str = "86") -> CustomerReport:
    """Flag unusable contacts and merge duplicate customers.

    ``name_district``: "always" matches every same-name same-district pair (common names make
    this merge different people), "fallback" only attaches records without any usable contact
    to a same-name record of their district, "off" never matches on names.
    The kept record of a group is a reachable one if any, then the earliest ``created``
    (registration time), then the first row. A contact column given as None is not checked;
    with neither, nobody is flagged unreachable. ``default_country`` "86" reads a bare
    11-digit mainland mobile as +86 (see ``analytics.contacts.normalise_phone``).
    """
    n = len(ids)
    for label, column in (("phones", phones), ("emails", emails), ("names", names),
                          ("districts", districts), ("created", created)):
        if column is not None:
            require_length(label, len(column), n)
    flags = np.zeros(n, dtype=np.int32)
    usable = np.zeros(n, dtype=np.bool_)
    edges: list[tuple[IntArray, IntArray]] = []
    key_sets: list[tuple[npt.NDArray[np.str_], int]] = []
    for column, parse, bits in ((phones, phone_keys, (PHONE_MISSING, PHONE_INVALID, SAME_PHONE)),
                                (emails, email_keys, (EMAIL_MISSING, EMAIL_INVALID, SAME_EMAIL))):
        if column is None:  # not given: neither flagged nor counted against reachability
            continue
        keys, blank, invalid = parse(column)
        flags[blank] |= bits[0]
        flags[invalid] |= bits[1]
        usable |= keys != ""
        key_sets.append((keys, bits[2]))
    if not key_sets:  # no contact column at all: reachability is unknown, not refused
        usable[:] = True
    flags[~usable] |= UNREACHABLE
    for keys, bit in key_sets:
        present = keys != ""
        edges.append(_link(group_strings(keys), present, flags, bit))
    if names is not None and name_district != "off" and (name_district == "always"
                                                          or not usable.all()):
        name = name_keys(names)
        district = districts if districts is not None else np.zeros(n, dtype=np.int64)
        group = group_strings(name) * (int(district.max(initial=0)) + 2) + district + 1
        only = ~usable if name_district == "fallback" else None
        edges.append(_link(group, name != "", flags, SAME_NAME_DISTRICT, only))
    canonical = _components(n, edges, created, ~usable)
    merged = canonical != np.arange(n)
    flags[merged] |= MERGED
    kept = np.flatnonzero(~merged)
    id_array = np.asarray(ids, dtype=object)
    merges = tuple(zip(id_array[merged].tolist(), id_array[canonical[merged]].tolist(),
                       strict=True))
    return CustomerReport(
        canonical=canonical, kept=kept, flags=flags, merges=merges, received=n,
        merged=int(merged.sum()), phone_invalid=int(((flags & PHONE_INVALID) > 0).sum()),
        email_invalid=int(((flags & EMAIL_INVALID) > 0).sum()),
        unreachable=int(((flags[kept] & UNREACHABLE) > 0).sum()))


def _runs(*keys: IntArray) -> IntArray:
    """Run number of each row of rows sorted by ``keys`` (equal keys, equal run)."""
    change = np.zeros(len(keys[0]), dtype=np.bool_)
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    run: IntArray = np.cumsum(change)
    return run


def group_strings(keys: npt.NDArray[np.str_]) -> IntArray:
    """A group number per string, equal strings equal numbers: a multilinear hash of the
    code points (numpy, row blocks), then a sort of the hashes; exact, because a hash
    collision is detected and then the strings themselves are sorted."""
    n = len(keys)
    if n == 0 or keys.dtype.itemsize == 0:
        return np.zeros(n, dtype=np.int64)
    codes = keys.view(np.uint32).reshape(n, -1)
    multiplier = np.random.default_rng(0x5EED).integers(
        1, 2**63, codes.shape[1], dtype=np.uint64) | np.uint64(1)
    hashed = np.empty(n, dtype=np.uint64)
    for start in range(0, n, 65_536):
        block = codes[start:start + 65_536].astype(np.uint64)
        hashed[start:start + 65_536] = (block * multiplier).sum(axis=1, dtype=np.uint64)
    _, first, group = np.unique(hashed, return_index=True, return_inverse=True)
    group = group.reshape(-1).astype(np.int64)
    if (keys[first[group]] != keys).any():  # two different strings, one hash
        _, group = np.unique(keys, return_inverse=True)
    out: IntArray = group.reshape(-1).astype(np.int64)
    return out


def _link(group: IntArray, present: npt.NDArray[np.bool_], flags: npt.NDArray[np.int32],
          bit: int, only: npt.NDArray[np.bool_] | None = None) -> tuple[IntArray, IntArray]:
    """Edges from records to the representative of their group (equal key); ``only`` limits
    which records may be attached (the representative prefers records outside ``only``)."""
    rows = np.flatnonzero(present)
    if not len(rows):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    _, group = np.unique(group[rows], return_inverse=True)
    group = group.reshape(-1)
    rank = (only[rows].astype(np.int64) if only is not None else np.zeros(len(rows), np.int64))
    order = np.lexsort((rows, rank, group))  # per group: preferred records first, then row
    first = np.ones(len(rows), dtype=np.bool_)
    first[1:] = group[order][1:] != group[order][:-1]
    rep = np.empty(int(group.max()) + 1, dtype=np.int64)
    rep[group[order][first]] = rows[order][first]
    sizes = np.bincount(group)
    linked = sizes[group] > 1
    if only is not None:
        linked &= only[rows] | (rep[group] == rows)
        has_attached = np.bincount(group, weights=(linked & only[rows]).astype(np.float64),
                                   minlength=len(sizes)) > 0
        linked &= has_attached[group]
    flags[rows[linked]] |= bit
    source = rows[linked]
    return source, rep[group[linked]]


def _components(n: int, edges: list[tuple[IntArray, IntArray]], created: IntArray | None,
                unreachable: npt.NDArray[np.bool_]) -> IntArray:
    """For each record, the kept record of its duplicate group (reachable first, then the
    earliest created, then the first row)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    source = np.concatenate([e[0] for e in edges]) if edges else np.zeros(0, np.int64)
    target = np.concatenate([e[1] for e in edges]) if edges else np.zeros(0, np.int64)
    graph = sparse.coo_array((np.ones(len(source), dtype=np.int8), (source, target)),
                             shape=(n, n))
    _, label = csgraph.connected_components(graph, directed=True, connection="weak")
    label = np.asarray(label, dtype=np.int64)
    when = created if created is not None else np.zeros(n, dtype=np.int64)
    order = np.lexsort((np.arange(n), when, unreachable, label))
    first = np.ones(n, dtype=np.bool_)
    first[1:] = label[order][1:] != label[order][:-1]
    keep_of = np.empty(int(label.max()) + 1 if n else 0, dtype=np.int64)
    keep_of[label[order][first]] = order[first]
    canonical: IntArray = keep_of[label]
    return canonical


def cleanse_transactions(customer: IntArray, product: IntArray, amount: FloatArray,
                         time: IntArray, canonical: IntArray, *, as_of: int | None = None,
                         drop_invalid: bool = False) -> TransactionReport:
    """Move rows of merged customers to the kept one, drop exact duplicates and rows at or
    after ``as_of``; NaN/infinite or negative amounts are refused (``NonFiniteError``,
    ``NegativeValueError``) unless ``drop_invalid``, which drops and counts them."""
    n = len(customer)
    for label, column in (("tx_product", product), ("tx_amount", amount), ("tx_time", time)):
        require_length(label, len(column), n)
    finite = np.isfinite(amount)
    negative = finite & (amount < 0)
    if not drop_invalid:
        require_finite("tx_amount", amount)
        require_nonnegative("tx_amount", amount)
    owner = canonical[customer]
    keep = finite & ~negative
    late = np.zeros(n, dtype=np.bool_) if as_of is None else time >= as_of
    keep &= ~late
    rows = np.flatnonzero(keep)
    # Exact duplicates: same (owner, product, time, amount) - keep the first row.
    r = rows[sort_order((owner[rows], product[rows], time[rows]))]
    run = _runs(owner[r], product[r], time[r])
    shared = np.flatnonzero(np.bincount(run)[run] > 1)  # rows sharing customer/product/time
    r[shared] = r[shared[np.lexsort((amount[r[shared]], run[shared]))]]
    same = np.zeros(len(r), dtype=np.bool_)
    same[1:] = (run[1:] == run[:-1]) & (amount[r][1:] == amount[r][:-1])
    kept_rows = np.sort(r[~same])
    return TransactionReport(
        rows=kept_rows, received=n, duplicates=int(same.sum()), non_finite=int((~finite).sum()),
        negative=int(negative.sum()),
        reassigned=int((owner[kept_rows] != customer[kept_rows]).sum()),
        after_as_of=int((late & finite & ~negative).sum()))
