"""Node tokens: 32 random bytes shown once at registration, stored only as their sha256."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sea.collector.schema import nodes
from sea.errors import SeaError

NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class NodeExists(SeaError):
    """A node of that id is already registered."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_node_id(node_id: str) -> str:
    if not NODE_ID.fullmatch(node_id):
        raise SeaError(f"node_id {node_id!r}: use 1-128 letters, digits, '.', '_' or '-'")
    return node_id


def add_node(engine: Engine, node_id: str, replace: bool = False) -> str:
    """Register `node_id` (or give it a new token with `replace`); returns the token."""
    check_node_id(node_id)
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        exists = conn.execute(sa.select(nodes.c.node_id).where(nodes.c.node_id == node_id)).first()
        if exists and not replace:
            raise NodeExists(f"node {node_id!r} is already registered")
        if exists:
            conn.execute(nodes.update().where(nodes.c.node_id == node_id)
                         .values(token_sha256=_hash(token)))
        else:
            conn.execute(nodes.insert().values(node_id=node_id, token_sha256=_hash(token),
                                               created_ms=int(time.time() * 1000)))
    return token


def token_matches(engine: Engine, node_id: str, token: str) -> bool:
    """True when `token` is `node_id`'s; constant-time in the token, False for unknown nodes."""
    with engine.connect() as conn:
        stored = conn.execute(sa.select(nodes.c.token_sha256)
                              .where(nodes.c.node_id == node_id)).scalar()
    # an unknown node still costs one comparison, so timing does not tell which ids exist
    return hmac.compare_digest(_hash(token), stored or "0" * 64) and stored is not None
