"""The PK hash of V-AsOf's membership (H10): a w-bit prefix of a 64-bit digest.

Lance's as-of membership compares 64-bit hashes of primary keys, not the keys,
so two keys with equal hashes are one member.  With 64 bits a collision is too
rare to find by testing; ``pk_hash_bits`` (``MemWalOptions``) narrows the hash
to w bits so collisions are easy to find, while the rule stays Lance's: a probe
is a member iff its hash equals the hash of some admitted row's key.

The formula is part of the contract (the model computes it independently):
the first 8 bytes of BLAKE2b over the key's bytes, read big-endian, keep the
top w bits.  The key's bytes are its little-endian signed 8-byte form for an
integer, its UTF-8 encoding for a string.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa

_U64 = 2**64


def pk_hash(value: int | str, bits: int) -> int:
    """The ``bits``-bit hash of one primary key.

    ``int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") >> (64 - bits)``
    where ``key`` is ``value.to_bytes(8, "little", signed=True)`` for an integer
    and ``value.encode("utf-8")`` for a string.  A ``uint64`` key above
    ``2**63 - 1`` is hashed as its two's-complement ``int64`` (the same 8 bytes).
    """
    if isinstance(value, str):
        key = value.encode("utf-8")
    else:
        signed = value - _U64 if value >= 2**63 else value
        key = signed.to_bytes(8, "little", signed=True)
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - bits)


def pk_hashes(keys: pa.Array, bits: int) -> pa.Array:
    """``pk_hash`` of every key, as a ``uint64`` array (one Python call per key: this
    path runs only with the H10 knob on, never on the default, vectorized one)."""
    return pa.array([pk_hash(v, bits) for v in keys.to_pylist()], pa.uint64())
