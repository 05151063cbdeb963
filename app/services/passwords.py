"""Password hashing with Argon2id.

Profiles: ``owasp`` is argon2-cffi's RFC 9106 low-memory profile (Argon2id, t=3, m=64 MiB,
p=4), above OWASP's floor (m=19 MiB, t=2, p=1); ``test`` is cheap and only for the test suite.
"""

from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 256

_PROFILES = {
    "owasp": dict(time_cost=3, memory_cost=65536, parallelism=4, type=Type.ID),
    "test": dict(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID),
}


@cache
def hasher(profile: str) -> PasswordHasher:
    return PasswordHasher(**_PROFILES[profile])


@cache
def dummy_hash(profile: str) -> str:
    """A real hash of a random value: verifying against it costs what a real check costs,
    so an unknown e-mail takes as long to refuse as a wrong password."""
    return hasher(profile).hash("not-a-password-anyone-has")


def hash_password(password: str, profile: str) -> str:
    return hasher(profile).hash(password)


def verify(stored_hash: str | None, password: str, profile: str) -> bool:
    try:
        return hasher(profile).verify(stored_hash or dummy_hash(profile), password) and bool(
            stored_hash
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, profile: str) -> bool:
    return hasher(profile).check_needs_rehash(stored_hash)
