"""Staff accounts in MongoDB: argon2 password hashes, roles, skills, enable/disable."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from engage.errors import BadCredentials, Conflict, InvalidPayload, NotFound
from engage.models import Role, StaffUser
from engage.staff.passwords import DUMMY_HASH, PasswordChecks

Document = dict[str, Any]

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
MIN_PASSWORD_LENGTH = 10
# Words the product itself uses for actors that are not staff (in the interaction history,
# "ended by" pushes, call ends): an account so named would read as one of them.
RESERVED_USERNAMES = frozenset({"system", "visitor", "customer", "anonymous", "api"})


def check_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username):
        raise InvalidPayload("username: 2-40 characters of a-z, 0-9, '.', '_' or '-', "
                             "starting with a letter or digit")
    if username in RESERVED_USERNAMES:
        raise InvalidPayload(f"username: {username!r} is reserved")
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidPayload(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise InvalidPayload("password: at most 1024 characters")
    return password


def _to_user(doc: Document) -> StaffUser:
    return StaffUser(username=doc["username"], role=Role(doc["role"]),
                     display_name=doc.get("display_name") or doc["username"],
                     disabled=bool(doc.get("disabled")),
                     skills=dict(doc.get("skills") or {}),
                     queues=tuple(doc.get("queues") or ()))


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db.staff.create_index([("username", ASCENDING)], unique=True)
    await db.staff.create_index([("role", ASCENDING)])


class StaffDirectory:
    """The staff collection: who may sign in, with which role."""

    def __init__(self, db: AsyncDatabase[Document],
                 passwords: PasswordChecks | None = None) -> None:
        self._col = db.staff
        self.passwords = passwords or PasswordChecks()

    async def add(self, username: str, password: str, role: Role, *,
                  display_name: str = "", skills: dict[str, int] | None = None,
                  queues: list[str] | None = None, replace: bool = False) -> StaffUser:
        """Create an account; with ``replace`` an existing one gets this role, name, skills and
        queues again, and is enabled (used by demo data), but keeps its password: re-running
        the demo loader must not hand the demo password back to an account since secured."""
        check_username(username)
        check_password(password)
        doc: Document = {
            "username": username, "role": role.value,
            "display_name": display_name or username,
            "password_hash": await self.passwords.hash(password), "disabled": False,
            "skills": skills or {}, "queues": queues or [],
            "updated_at": datetime.now(UTC),
        }
        if replace:
            kept = ("password_hash",)
            await self._col.update_one(
                {"username": username},
                {"$set": {k: v for k, v in doc.items() if k not in kept},
                 "$setOnInsert": {"created_at": datetime.now(UTC),
                                  **{k: doc[k] for k in kept}}},
                upsert=True)
        else:
            try:
                await self._col.insert_one({**doc, "created_at": datetime.now(UTC)})
            except DuplicateKeyError:
                raise Conflict(f"user {username!r} already exists") from None
        return _to_user(doc)

    async def get(self, username: str) -> StaffUser | None:
        doc = await self._col.find_one({"username": username}, {"password_hash": 0})
        return _to_user(doc) if doc else None

    async def list(self) -> list[StaffUser]:
        cursor = self._col.find({}, {"password_hash": 0}).sort("username", 1)
        return [_to_user(doc) async for doc in cursor]

    async def set_disabled(self, username: str, disabled: bool) -> StaffUser:
        result = await self._col.update_one(
            {"username": username},
            {"$set": {"disabled": disabled, "updated_at": datetime.now(UTC)}})
        if result.matched_count == 0:
            raise NotFound(f"no user {username!r}")
        user = await self.get(username)
        assert user is not None
        return user

    async def authenticate(self, username: str, password: str) -> StaffUser:
        """The user if the password matches and the account is enabled; else BadCredentials.

        The same error for unknown, disabled and wrong-password, so accounts can't be probed.
        """
        doc = await self._col.find_one({"username": username}) if USERNAME_RE.fullmatch(
            username) else None
        stored = doc.get("password_hash", DUMMY_HASH) if doc else DUMMY_HASH
        verified = await self.passwords.verify(stored, password) and doc is not None
        if not verified or doc is None or doc.get("disabled"):
            raise BadCredentials()
        if self.passwords.needs_rehash(stored):
            await self._col.update_one(
                {"username": username},
                {"$set": {"password_hash": await self.passwords.hash(password)}})
        return _to_user(doc)
