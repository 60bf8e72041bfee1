"""The user's vocabulary rules: blocked tags, synonyms (alias -> canonical), always-add tags.

Ranking reads them on every call, so a rule applies at once to every photo ranked after it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from ..errors import LibraryError
from .import_check import is_valid_tag


@dataclass
class Rules:
    blocked: set[str] = field(default_factory=set)
    synonyms: dict[str, str] = field(default_factory=dict)  # alias -> canonical
    always: list[str] = field(default_factory=list)

    def canon(self, tag: str) -> str:
        return self.synonyms.get(tag, tag)

    def aliases(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for alias, target in self.synonyms.items():
            out.setdefault(target, []).append(alias)
        return out

    def to_dict(self) -> dict:
        """{"blocked": [...], "synonyms": {alias: canonical}, "always": [...]}."""
        return {
            "blocked": sorted(self.blocked),
            "synonyms": dict(sorted(self.synonyms.items())),
            "always": list(self.always),
        }


def load_rules(conn: sqlite3.Connection) -> Rules:
    rules = Rules()
    for kind, tag, target in conn.execute(
        "SELECT kind, tag, target FROM rules ORDER BY created_at, tag"
    ):
        if not is_valid_tag(tag) or (kind == "synonym" and not is_valid_tag(target)):
            continue  # an odd tag (imported by an older hashlens): never shown or applied
        if kind == "block":
            rules.blocked.add(tag)
        elif kind == "synonym" and target:
            rules.synonyms[tag] = target
        elif kind == "always":
            rules.always.append(tag)
    return rules


def set_rule(conn: sqlite3.Connection, kind: str, tag: str, target: str | None,
             now: float) -> None:
    """Store a rule; block and always-add of the same tag replace each other."""
    if kind == "block":
        conn.execute("DELETE FROM rules WHERE kind = 'always' AND tag = ?", (tag,))
    elif kind == "always":
        conn.execute("DELETE FROM rules WHERE kind = 'block' AND tag = ?", (tag,))
    elif kind == "synonym":
        target = link_synonym(conn, tag, target or "")
    conn.execute(
        "INSERT OR REPLACE INTO rules(kind, tag, target, created_at) VALUES (?, ?, ?, ?)",
        (kind, tag, target, now),
    )


def drop_rule(conn: sqlite3.Connection, kind: str, tag: str) -> None:
    conn.execute("DELETE FROM rules WHERE kind = ? AND tag = ?", (kind, tag))


def link_synonym(conn: sqlite3.Connection, alias: str, target: str) -> str:
    """Before `alias -> target` is stored: chains resolved so every alias points at a final
    tag (returned; the aliases of `alias` now point at it); LibraryError for a loop."""
    syn = dict(conn.execute("SELECT tag, target FROM rules WHERE kind = 'synonym'"))
    final = target
    seen = {alias}
    while final in syn:
        if final in seen:
            break
        seen.add(final)
        final = syn[final]
    if final == alias or final in seen:
        raise LibraryError(f"{alias} -> {target} would make a synonym loop")
    conn.execute(
        "UPDATE rules SET target = ? WHERE kind = 'synonym' AND target = ?", (final, alias)
    )
    return final
