"""Backup and restore: the whole library as one JSON file, and merging such a file back.

The export leaves out what an import would refuse (import_check.py), so every export imports.
An import checks the whole file before the first write, copies the library aside, then merges
in one transaction: photos by content hash, decisions added unless already logged (a photo's
state becomes its newest decision from either side), local rules winning over imported ones.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from pathlib import Path

from ..errors import LibraryError
from . import integrity, migrations, ranking
from .db import Database, chunks
from .decisions import apply_decision, count_context, photo_history, rightness_of
from .habit_sums import Change, HabitSums
from .import_check import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    MAX_WEIGHT_ABS,
    ImportCheckError,
    LibraryImport,
    PhotoImport,
    RuleImport,
    check_photo,
    is_valid_tag,
)
from .learning import load_weights, save_weights, weights_n
from .photos import decode_embedding, insert_photo, kept_tags, mark_decided, photo_id, projection
from .ranking import RankingConfig
from .rules import link_synonym

log = logging.getLogger(__name__)
IMPORT_BACKUPS_KEPT = 3


# -- export -------------------------------------------------------------------------------------
def export_json(db: Database, target: Path, cfg: RankingConfig, now: float,
                include_embeddings: bool = True) -> dict:
    """Write the library to `target` atomically (a temp file, then renamed); counts."""
    db.require_intact("export")  # a backup of a damaged file would be damaged too
    tmp = target.with_name(target.name + ".tmp")
    counts = {"photos": 0, "decisions": 0, "rules": 0}
    skipped = {"photos": 0, "decisions": 0, "suggestions": 0, "rules": 0}
    with db.read("export") as conn:
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                rules = _export_rules(conn, skipped)
                counts["rules"] = len(rules)
                head = {
                    "format": EXPORT_FORMAT,
                    "format_version": EXPORT_VERSION,
                    "schema_version": migrations.SCHEMA_VERSION,
                    "exported_at": now,
                    "weights": {  # (NaN or inf would make the file unimportable)
                        k: v for k, v in load_weights(conn, cfg).items()
                        if abs(v) <= MAX_WEIGHT_ABS
                    },
                    "weights_n": weights_n(conn),
                    "rules": rules,
                }
                fh.write(json.dumps(head)[:-1] + ', "photos": [\n')
                first = True
                for photo in _export_photos(conn, include_embeddings, skipped):
                    counts["photos"] += 1
                    counts["decisions"] += len(photo["decisions"])
                    fh.write(("" if first else ",\n") + json.dumps(photo))
                    first = False
                fh.write("\n]}\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise LibraryError(f"cannot write {target}: {exc.strerror or exc}") from None
    if any(skipped.values()):
        counts["skipped"] = {k: v for k, v in skipped.items() if v}
        log.warning("the export %s leaves out what an import would refuse: %s", target,
                    ", ".join(f"{v} {k}" for k, v in skipped.items() if v))
    return counts


def _export_rules(conn: sqlite3.Connection, skipped: dict[str, int]) -> list[dict]:
    rules = []
    for k, t, g, c in conn.execute(
        "SELECT kind, tag, target, created_at FROM rules ORDER BY kind, tag"
    ):
        if is_valid_tag(t) and (k != "synonym" or is_valid_tag(g)):
            rules.append({"kind": k, "tag": t, "target": g, "created_at": c})
        else:
            skipped["rules"] += 1
    return rules


def _export_photos(conn: sqlite3.Connection, include_embeddings: bool, skipped: dict[str, int],
                   ) -> Iterator[dict]:
    """Each photo as export_json writes it; `skipped` counts what import_check would refuse
    (odd tags' decisions and suggestions, and photos that fail it anyway)."""
    last = 0
    while True:
        rows = conn.execute(
            "SELECT id, content_hash, path, file_size, mtime, width, height, added_at, "
            "updated_at, embedding, emb_dtype, emb_dim, emb_model FROM photos "
            "WHERE id > ? ORDER BY id LIMIT 500",
            (last,),
        ).fetchall()
        if not rows:
            return
        for r in rows:
            last = r[0]
            photo = _export_photo(conn, r, include_embeddings, skipped)
            try:
                check_photo(photo, "photo")
            except ImportCheckError as exc:
                skipped["photos"] += 1
                log.warning("not exported: the photo %s (%s): %s", r[1], r[2], exc)
                continue
            yield photo


def _export_photo(conn: sqlite3.Connection, r: tuple, include_embeddings: bool,
                  skipped: dict[str, int]) -> dict:
    pid = r[0]
    suggestions = [
        {"model_version": m, "tag": t, "score": s, "source": src, "position": p, "created_at": ca}
        for m, t, s, src, p, ca in conn.execute(
            "SELECT model_version, tag, score, source, position, created_at "
            "FROM suggestions WHERE photo_id = ? ORDER BY model_version, position",
            (pid,),
        )
    ]
    decisions = [list(d) for d in photo_history(conn, pid)]
    kept_s = [s for s in suggestions if is_valid_tag(s["tag"])]
    kept_d = [d for d in decisions if is_valid_tag(d[0])]
    skipped["suggestions"] += len(suggestions) - len(kept_s)
    skipped["decisions"] += len(decisions) - len(kept_d)
    photo = {
        "content_hash": r[1], "path": r[2], "file_size": r[3], "mtime": r[4], "width": r[5],
        "height": r[6], "added_at": r[7], "updated_at": r[8],
        "paths": [
            list(p)
            for p in conn.execute(
                "SELECT path, first_seen, last_seen FROM photo_paths WHERE photo_id = ? "
                "ORDER BY first_seen",
                (pid,),
            )
        ],
        "captions": [
            {"model_version": m, "caption": c, "tokens": json.loads(t) if t else [],
             "log_prob": lp, "created_at": ca}
            for m, c, t, lp, ca in conn.execute(
                "SELECT model_version, caption, tokens, log_prob, created_at "
                "FROM captions WHERE photo_id = ?",
                (pid,),
            )
        ],
        "suggestions": kept_s,
        "decisions": kept_d,
        "embedding": None,
    }
    if include_embeddings and r[9] is not None:
        photo["embedding"] = {"dtype": r[10], "dim": r[11], "model": r[12],
                              "data": base64.b64encode(r[9]).decode("ascii")}
    return photo


# -- import -------------------------------------------------------------------------------------
class Importer:
    """Merges one checked export into the library (see the module doc)."""

    def __init__(self, db: Database, cfg: RankingConfig, habit_sums: HabitSums,
                 clock: Callable[[], float]):
        self.db = db
        self.cfg = cfg
        self.habits = habit_sums
        self.clock = clock

    def run(self, doc: LibraryImport) -> dict:
        report: dict = {
            "photos_added": 0,
            "photos_merged": 0,
            "decisions_added": 0,
            "decisions_skipped": 0,
            "rules_added": 0,
            "rules_skipped": 0,
        }
        with self.db.write("import") as conn:
            report["backup"] = str(self._backup())
            self._rules(conn, doc.rules, report)
            # The learned weights of the parts: the side that learned from more decisions wins.
            if doc.weights is not None and doc.weights_n > weights_n(conn):
                clean = ranking.default_weights(self.cfg)
                clean.update({k: v for k, v in doc.weights.items() if k in clean})
                save_weights(conn, clean, doc.weights_n)
            for part in chunks(doc.photos, 200):  # (the habit changes in bounded memory)
                changes: list[Change] = []
                for photo in part:
                    self._photo(conn, photo, report, changes)
                self.habits.apply(conn, changes)
        return report

    def _backup(self) -> Path:
        """Copy the library before an import changes it; called inside the import's write
        transaction, so the copy is exactly the state the import starts from (read through a
        second, read-only connection: SQLite's backup cannot read the writer's own)."""
        path = self.db.path
        target = integrity.dated_name(path, ".import-", self.clock, ".bak")
        try:
            src = integrity.connect_readonly(path, timeout=30)
            try:
                self.db.backup(target, src)
            finally:
                src.close()
        except (OSError, sqlite3.Error) as exc:
            with suppress(OSError):
                target.with_name(target.name + ".tmp").unlink(missing_ok=True)
            raise LibraryError(
                f"cannot back up the tag library to {target} before the import ({exc}); "
                "nothing was imported"
            ) from None
        old = sorted(path.parent.glob(f"{path.name}.import-*.bak"),
                     key=lambda p: (p.stat().st_mtime, p.name))
        for stale in old[:-IMPORT_BACKUPS_KEPT]:
            with suppress(OSError):
                stale.unlink()
        return target

    def _rules(self, conn: sqlite3.Connection, rules: Sequence[RuleImport], report: dict) -> None:
        """Add the imported rules that do not clash with local ones (local rules win)."""
        kinds = set(conn.execute("SELECT kind, tag FROM rules"))
        for rule in rules:
            if (rule.kind, rule.tag) in kinds:
                continue  # the local one wins (the same rule: nothing to add)
            other = {"block": "always", "always": "block"}.get(rule.kind)
            if (other, rule.tag) in kinds:
                report["rules_skipped"] += 1
                continue
            target = rule.target
            if rule.kind == "synonym":
                try:
                    target = link_synonym(conn, rule.tag, rule.target or "")
                except LibraryError:  # it would loop with a local synonym
                    report["rules_skipped"] += 1
                    continue
            conn.execute(
                "INSERT INTO rules(kind, tag, target, created_at) VALUES (?, ?, ?, ?)",
                (rule.kind, rule.tag, target, rule.created_at or self.clock()),
            )
            kinds.add((rule.kind, rule.tag))
            report["rules_added"] += 1

    def _photo(self, conn: sqlite3.Connection, photo: PhotoImport, report: dict,
               changes: list[Change]) -> None:
        """Merge one checked photo; its habit-sum change is appended to `changes`."""
        now = self.clock()
        pid = photo_id(conn, photo.content_hash)
        if pid is None:
            pid = insert_photo(
                conn, photo.content_hash, photo.path, added_at=photo.added_at or now,
                updated_at=photo.updated_at or now, file_size=photo.file_size,
                mtime=photo.mtime, width=photo.width, height=photo.height)
            report["photos_added"] += 1
        else:
            conn.execute(
                "UPDATE photos SET path = CASE WHEN path = '' THEN ? ELSE path END, "
                "file_size = coalesce(file_size, ?), mtime = coalesce(mtime, ?), "
                "width = coalesce(width, ?), height = coalesce(height, ?) WHERE id = ?",
                (photo.path, photo.file_size, photo.mtime, photo.width, photo.height, pid),
            )
            report["photos_merged"] += 1
            count_context(conn, pid, -1)  # put back below, with the merged suggestions
        before = self.habits.part(conn, pid, kept_tags(conn, pid))
        self._photo_rows(conn, pid, photo, now)
        rights = rightness_of(conn, pid, self.cfg)  # (once per photo, not per decision)
        for d in sorted(photo.decisions, key=lambda d: d.at):
            right = rights.get(d.tag, self.cfg.rightness_unsuggested)
            if apply_decision(conn, pid, d.tag, d.state, d.at, False, self.cfg, right):
                report["decisions_added"] += 1
            else:
                report["decisions_skipped"] += 1
        changes.append((before, self.habits.part(conn, pid, count_context(conn, pid, +1))))
        mark_decided(conn, pid)

    @staticmethod
    def _photo_rows(conn: sqlite3.Connection, pid: int, photo: PhotoImport, now: float) -> None:
        """The photo's paths, embedding (unless it has one), captions and suggestions."""
        for p in photo.paths:
            conn.execute(
                "INSERT INTO photo_paths(photo_id, path, first_seen, last_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(photo_id, path) DO UPDATE SET "
                "first_seen = min(first_seen, excluded.first_seen), "
                "last_seen = max(last_seen, excluded.last_seen)",
                (pid, p.path, p.first_seen, p.last_seen),
            )
        emb = photo.embedding
        if emb is not None:
            vec = decode_embedding(emb.blob, emb.dtype)
            conn.execute(
                "UPDATE photos SET embedding = ?, emb_dtype = ?, emb_dim = ?, emb_proj = ?, "
                "emb_model = ? WHERE id = ? AND embedding IS NULL",
                (emb.blob, emb.dtype, vec.size, projection(vec), emb.model, pid),
            )
        for c in photo.captions:
            conn.execute(
                "INSERT OR IGNORE INTO captions(photo_id, model_version, caption, tokens, "
                "log_prob, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (pid, c.model_version, c.caption, json.dumps(list(c.tokens)), c.log_prob,
                 c.created_at or now),
            )
        for s in photo.suggestions:
            conn.execute(
                "INSERT OR IGNORE INTO suggestions(photo_id, model_version, tag, score, source, "
                "position, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (pid, s.model_version, s.tag, s.score, s.source, s.position,
                 s.created_at or now),
            )
