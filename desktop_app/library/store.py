"""The personal tag library: one SQLite file (WAL mode) in the user's data folder.

What it keeps: photos (by content hash, so moves and renames keep their history), their
captions, embeddings and the model's suggestions, the user's decisions (an append-only log plus
derived tables for fast ranking), and the vocabulary rules. `rank` turns the model's candidates
into the personalised list (ranking.py has the formula).

`TagLibrary` is the public interface; each of its parts is a module with one idea:

- db.py: the connection, transactions, errors and SQLite's verdict on the file (safety: every
  write one short IMMEDIATE transaction with synchronous=FULL; nothing written to a file SQLite
  calls damaged; a library that cannot be written opens read-only, with `note` saying why);
- photos.py: photo rows, paths, embeddings, captions, the model's suggestions;
- decisions.py: the decision log and the counts derived from it in the same transaction;
- rules.py: blocked tags, synonyms, always-add tags;
- evidence.py: what the library knows about each candidate for one photo (ranking's input);
- learning.py: the weights of the score's parts, learned online;
- habit_sums.py / habits.py: the habit models ("#familytime when a child is in it");
- neighbour_cache.py / neighbours.py: the votes of visually similar reviewed photos;
- views.py: preferences, tag completion, counts; transfer.py: JSON backup and restore.

Start-up reads nothing but the schema (SQLite's check runs on its own thread); the neighbour
index is loaded on the first `rank` with an embedding (only photos with decisions, projected to
128 dims: 50 MB and ~1-2 s at 100k photos).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import LibraryError
from ..results import HashtagSuggestion, PhotoResult
from . import decisions, habits, integrity, photos, ranking, rules, transfer, views
from .db import DB_NAME, Database, open_database
from .evidence import Sources, gather
from .habit_sums import HabitSums
from .import_check import LibraryImport, is_valid_tag, load_export
from .learning import learn, load_weights
from .neighbour_cache import NeighbourCache
from .photos import PhotoRecord
from .ranking import POSITIVE_STATES, RankingConfig
from .views import TagPreference

log = logging.getLogger(__name__)
_RECENT = 256  # photos whose model candidates `rank` remembers for `record_result`


@dataclass(frozen=True)
class TagHistory:
    """What the user has done with tags, as plain data for the tagging code (popular variants
    and trending tags): the tags kept on this photo and how the user treats every tag."""

    kept_here: tuple[str, ...] = ()
    preferences: tuple[TagPreference, ...] = ()


class TagLibrary:
    """The user's tag library. Thread-safe (one connection behind a lock); open one per process.

    Use `TagLibrary.open(folder)`; `clock` and `config` are for tests and the benchmarks.
    """

    def __init__(
        self,
        database: Database,
        *,
        config: RankingConfig | None = None,
        clock: Callable[[], float] = time.time,
        habit_features: habits.PhotoFeatures | None | str = "default",
    ):
        self.db = database
        self.config = config or RankingConfig()
        self.clock = clock
        self._habits = HabitSums(self.config, habit_features)
        self._neighbours = NeighbourCache(self.config)
        self._recent: OrderedDict[str, list[HashtagSuggestion]] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._prefs: tuple[tuple[int, int], tuple[TagPreference, ...]] | None = None

    # -- opening and closing ---------------------------------------------------------------
    @classmethod
    def open(
        cls,
        folder: Path | str,
        *,
        readonly: bool = False,
        config: RankingConfig | None = None,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 10.0,
        habit_features: habits.PhotoFeatures | None | str = "default",
        background_check: bool = True,
    ) -> TagLibrary:
        """Open (creating if needed) the library in `folder`/library.sqlite3.

        Raises LibraryError, leaving any existing file as it was, when the folder or file cannot
        be created, SQLite says the file is damaged or not a database, it is another program's,
        its schema is newer than this version of hashlens, or another process holds it locked
        longer than `busy_timeout`. A library that cannot be written (a read-only file or
        folder) opens read-only, with `note` saying so. SQLite's quick_check of the whole file
        starts in the background (`background_check`; else it runs at the first write, as
        short-lived commands that may not write want); the first write waits for its verdict.
        """
        database = open_database(folder, readonly=readonly, busy_timeout=busy_timeout,
                                 background_check=background_check)
        return cls(database, config=config, clock=clock, habit_features=habit_features)

    @property
    def path(self) -> Path:
        return self.db.path

    @property
    def readonly(self) -> bool:
        return self.db.readonly

    @property
    def note(self) -> str | None:
        """Why the library is open read-only, if it is."""
        return self.db.note

    def close(self) -> None:
        self.db.close()
        self._neighbours.clear()

    def __enter__(self) -> TagLibrary:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def verify(self) -> integrity.Diagnosis:
        """SQLite's verdict on the file (the check started at open, waited for)."""
        return self.db.verify()

    def check(self, full: bool = False) -> list[str]:
        """SQLite's quick_check (`full`: integrity_check); its verdict is kept."""
        return self.db.check(full)

    def generation(self) -> tuple[int, int]:
        """Changes whenever anything in the library changes (decisions, rules, photos), in this
        process or another: a photo ranked at an older generation may rank differently now."""
        return self.db.generation()

    def _sources(self) -> Sources:
        return Sources(self.config, self._neighbours, self._habits, self.clock())

    # -- photos ----------------------------------------------------------------------------
    def record_result(
        self,
        result: PhotoResult,
        mtime: float,
        file_size: int,
        model_version: str,
        candidates: Sequence[HashtagSuggestion] | None = None,
    ) -> int:
        """Store a captioned photo; returns its id.

        The photo is matched by content hash: a known hash at a new path moves the photo (its
        decisions stay), a new hash is a new photo. The caption and the model's suggestions are
        kept per model version (the latest run replaces the previous one of the same version).

        The suggestions stored are the model's own (unpersonalised) candidates, because the
        library learns from what the model said: `candidates` if given, else the candidates
        `rank` last saw for this photo in this process, else `result.hashtags` without the
        library's and the rules' additions.
        """
        content_hash = result.content_hash or _hash_file(result.path)
        cap = result.caption
        emb = None if cap is None or cap.embedding is None else cap.embedding
        enc = photos.StoredEmbedding.of(emb) if emb is not None else None
        size = (int(result.size[0]), int(result.size[1])) if result.size else (0, 0)
        now = self.clock()
        if candidates is None:
            with self._recent_lock:
                candidates = self._recent.pop(content_hash, None)
        if candidates is None:
            candidates = [h for h in result.hashtags if h.source not in photos.LIBRARY_SOURCES]
        with self.db.write("record a photo") as conn:
            pid = photos.upsert_file(conn, content_hash, str(result.path), file_size, mtime,
                                     size, now)
            kept = photos.kept_tags(conn, pid)  # None: no decisions yet
            before = self._habits.part(conn, pid, kept)  # (its habit terms move below)
            if enc is not None:
                photos.store_embedding(conn, pid, enc, model_version, reviewed=kept is not None)
            if cap is not None:
                photos.store_caption(conn, pid, model_version, cap, now)
            if candidates:
                decisions.count_context(conn, pid, -1)
                photos.replace_suggestions(conn, pid, model_version, candidates, now)
                if decisions.count_context(conn, pid, +1) is not None:
                    decisions.reweigh_photo(conn, pid, self.config)
            if kept is not None:  # a reviewed photo's new embedding or suggestions
                self._habits.apply(conn, [(before, self._habits.part(conn, pid, kept))])
        return pid

    def photo_by_hash(self, content_hash: str) -> PhotoRecord | None:
        with self.db.read() as conn:
            return photos.read_record(conn, "content_hash = ?", content_hash)

    def photo_by_path(self, path: str | os.PathLike) -> PhotoRecord | None:
        """The photo last seen at `path` (if the file was edited, the newest content)."""
        with self.db.read() as conn:
            return photos.record_at_path(conn, path)

    def embedding(self, content_hash: str) -> np.ndarray | None:
        with self.db.read() as conn:
            pid = photos.photo_id(conn, content_hash)
            return None if pid is None else photos.stored_embedding(conn, pid)

    def note_path(self, content_hash: str, path: str, size: int, mtime: float) -> None:
        """A known photo seen at a new path (moved, renamed, copied): remember where it is."""
        now = self.clock()
        with self.db.write("note a moved photo") as conn:
            photos.note_path(conn, content_hash, path, size, mtime, now)

    def is_recorded(self, path: str, size: int, mtime: float) -> bool:
        """The library already holds this exact file (path, size and mtime)."""
        with self.db.read("read the library") as conn:
            return photos.is_recorded(conn, path, size, mtime)

    def known_content(self, content_hash: str) -> str | None:
        """Where a photo with this content was captioned before (its last path), or None."""
        with self.db.read("read the library") as conn:
            return photos.captioned_at(conn, content_hash)

    # -- decisions -------------------------------------------------------------------------
    def record_decisions(
        self,
        content_hash: str,
        approve: Iterable[str] = (),
        reject: Iterable[str] = (),
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        *,
        path: str | os.PathLike | None = None,
        at: float | None = None,
    ) -> None:
        """Record the user's decisions on one photo in one short transaction.

        Tags must already be normalised by the caller. A photo the library has not seen yet is
        created (with `path` if given) so no decision is refused. When the call returns, the
        decisions are on disk, and the next `rank` uses them.
        """
        ops = decisions.parse_ops(approve, reject, add, remove)
        if not ops:
            return
        when = self.clock() if at is None else float(at)
        cfg = self.config
        with self.db.write("record decisions") as conn:
            pid = photos.ensure_photo(conn, content_hash, str(path) if path else None,
                                      self.clock)
            emb = photos.stored_embedding(conn, pid)
            if self.config.learn:
                learn(conn, self._sources(), pid, ops, emb)
            kept_before = decisions.count_context(conn, pid, -1)
            rights = decisions.rightness_of(conn, pid, cfg)
            for tag, state in ops.items():
                decisions.apply_decision(conn, pid, tag, state, when, True, cfg,
                                         rights.get(tag, cfg.rightness_unsuggested))
            kept_after = decisions.count_context(conn, pid, +1)
            phi = self._habits.stored_phi(conn, pid)
            self._habits.apply(conn, [(habits.part(phi, kept_before),
                                       habits.part(phi, kept_after))])
            photos.mark_decided(conn, pid)

    def decisions_for(self, content_hash: str) -> dict[str, str]:
        """tag -> the latest state ('approved', 'rejected', 'added', 'removed') on this photo."""
        with self.db.read() as conn:
            pid = photos.photo_id(conn, content_hash)
            if pid is None:
                return {}
            return {tag: state for tag, state in decisions.photo_states(conn, pid)
                    if is_valid_tag(tag)}  # (odd tags from an older import are never shown)

    def history(self, content_hash: str) -> list[tuple[str, str, float]]:
        """Every decision on the photo, oldest first: (tag, state, time)."""
        with self.db.read() as conn:
            pid = photos.photo_id(conn, content_hash)
            return [] if pid is None else decisions.photo_history(conn, pid)

    # -- rules -----------------------------------------------------------------------------
    def _set_rule(self, kind: str, tag: str, target: str | None = None) -> None:
        with self.db.write("change a rule") as conn:
            rules.set_rule(conn, kind, tag, target, self.clock())

    def _drop_rule(self, kind: str, tag: str) -> None:
        with self.db.write("change a rule") as conn:
            rules.drop_rule(conn, kind, tag)

    def block(self, tag: str) -> None:
        """Never suggest `tag` (or its synonyms)."""
        self._set_rule("block", tag)

    def unblock(self, tag: str) -> None:
        self._drop_rule("block", tag)

    def add_synonym(self, alias: str, canonical: str) -> None:
        """Merge `alias` into `canonical`: suggested and counted as `canonical`."""
        if alias == canonical:
            raise LibraryError(f"{alias} cannot be a synonym of itself")
        self._set_rule("synonym", alias, canonical)

    def remove_synonym(self, alias: str) -> None:
        self._drop_rule("synonym", alias)

    def add_always(self, tag: str) -> None:
        """Add `tag` to every photo's suggestions, first."""
        self._set_rule("always", tag)

    def remove_always(self, tag: str) -> None:
        self._drop_rule("always", tag)

    def rules(self) -> dict:
        """{"blocked": [...], "synonyms": {alias: canonical}, "always": [...]}."""
        with self.db.read() as conn:
            return rules.load_rules(conn).to_dict()

    # -- ranking ---------------------------------------------------------------------------
    def unpersonalized(
        self, candidates: Sequence[HashtagSuggestion], limit: int = 30
    ) -> list[HashtagSuggestion]:
        """The model's own order (the benchmark's baseline): copies, best model score first."""
        order = sorted(range(len(candidates)), key=lambda i: (-candidates[i].score, i))
        out: list[HashtagSuggestion] = []
        seen: set[str] = set()
        for i in order:
            c = candidates[i]
            if c.tag in seen or not is_valid_tag(c.tag):
                continue
            seen.add(c.tag)
            p = min(max(float(c.score), self.config.model_clip), 1 - self.config.model_clip)
            out.append(replace(c, parts={"model": ranking.logit(p)}))
        return out[:limit]

    def rank(
        self,
        candidates: Sequence[HashtagSuggestion],
        embedding: np.ndarray | None,
        content_hash: str | None = None,
        chosen: Sequence[str] = (),
        limit: int = 30,
        *,
        personalize: bool = True,
    ) -> list[HashtagSuggestion]:
        """The personalised ranking of `candidates` for one photo, best first.

        - rules: blocked tags dropped, synonyms merged into their canonical tag, always-add tags
          first (source "rule");
        - tags kept on visually similar photos are added (source "library"), as are tags often
          used with the ones already `chosen`;
        - every suggestion gets `parts` (log-odds terms, see ranking.py) and a `reason`.
        `content_hash`: the photo itself (its own decisions come first or last, and it is not its
        own neighbour). The inputs are not modified.
        """
        if not personalize:
            return self.unpersonalized(candidates, limit)
        if not self._habits.checked and embedding is not None:
            self._ensure_habits()
        if content_hash:
            self._remember(content_hash, candidates)
        with self.db.read("rank") as conn:
            rule_set = rules.load_rules(conn)
            pid = photos.photo_id(conn, content_hash) if content_hash else None
            found = gather(conn, self._sources(), rule_set, candidates, embedding, pid, chosen,
                           own=True)
            weights = load_weights(conn, self.config)
        scored = ranking.rank_evidence(found.evidence, self.config, found.order, weights)
        return _suggestions(rule_set, found, scored)[:limit]

    def _remember(self, content_hash: str, candidates: Sequence[HashtagSuggestion]) -> None:
        """For record_result: the model's candidates, not our ranking."""
        with self._recent_lock:
            self._recent[content_hash] = list(candidates)
            self._recent.move_to_end(content_hash)
            while len(self._recent) > _RECENT:
                self._recent.popitem(last=False)

    def _ensure_habits(self) -> None:
        """Build the habit sums if this library has none for the current features (made by an
        older hashlens, or with another tag detector): ~6 s at 100k reviewed photos, once. Called
        from `rank`, which runs on the tagging worker, so the GUI thread's first decision does
        not pay for it."""
        with self.db.read("check the habit models") as conn:
            needed = self._habits.needs_build(conn)
        if not needed or self.readonly:
            return
        with self.db.write("build the habit models") as conn:
            if self._habits.needs_build(conn):  # (unless another process just did)
                self._habits.rebuild(conn)

    # -- views -----------------------------------------------------------------------------
    def tag_preferences(self, limit: int | None = None) -> list[TagPreference]:
        """Every tag the user decided on, most kept first."""
        now = self.clock()
        with self.db.read() as conn:
            return views.tag_preferences(conn, self.config, self._habits, now, limit)

    def tag_history(self, content_hash: str | None = None) -> TagHistory:
        """The tags kept on this photo and every tag's preference, for the tagging code. The
        preferences are read again only when the library changed (here or elsewhere)."""
        gen = self.generation()
        cached = self._prefs
        if cached is None or cached[0] != gen:
            cached = self._prefs = (gen, tuple(self.tag_preferences()))
        kept: tuple[str, ...] = ()
        if content_hash:
            kept = tuple(t for t, s in self.decisions_for(content_hash).items()
                         if s in POSITIVE_STATES)
        return TagHistory(kept, cached[1])

    def known_tags(self, prefix: str, limit: int = 20) -> list[str]:
        """Tags starting with `prefix` (with or without '#'), the user's most used first."""
        with self.db.read() as conn:
            return views.known_tags(conn, prefix, limit)

    def stats(self) -> dict:
        """Counts for `hashlens library stats` (and the GUI)."""
        with self.db.read() as conn:
            return views.stats(conn, self.path, self.config)

    # -- maintenance -----------------------------------------------------------------------
    def rebuild_aggregates(self) -> None:
        """Recompute the derived tables (photo_tags, tag_stats, tag_pairs, suggest_seen,
        suggest_pairs, decided_seq, the habit sums) from the decision log and the stored
        suggestions.

        A repair tool, and how bulk loads (bench/library_scale.py) finish. One transaction: at
        1M decisions it holds the write lock for tens of seconds.
        """
        now = self.clock()
        with self.db.write("rebuild") as conn:
            decisions.rebuild_counts(conn, now, self.config)
            self._habits.rebuild(conn)

    def export_json(self, path: str | os.PathLike, include_embeddings: bool = True) -> dict:
        """Write the whole library as JSON (atomically: a temp file, then renamed).

        What `import_json` would refuse is left out and counted in "skipped" (present only
        when not 0): odd tags from files imported by older versions, and records that do not
        pass import_check (only hand-made libraries have them), so the export always imports.
        """
        return transfer.export_json(self.db, Path(path).expanduser(), self.config, self.clock(),
                                    include_embeddings)

    def import_json(self, path: str | os.PathLike, checked: LibraryImport | None = None) -> dict:
        """Merge a JSON backup into this library; importing the same file twice changes nothing.

        The whole file is checked first (import_check: types, ranges, hashes, tags through the
        typed-tag normaliser, rules, embeddings); a bad file raises ImportCheckError (a
        LibraryError) naming its first bad record, and nothing is written. Then, in one
        transaction: a copy of the library (`library.sqlite3.import-<time>.bak`, the newest
        three kept; its path is the report's "backup"), the rules, the weights and the photos.

        Photos are matched by content hash; decisions are added unless already logged, and a
        photo's state becomes its newest decision from either side. Local rules win over
        imported ones (one that would loop with a local synonym, or block a tag a local rule
        always adds or the reverse, is skipped). Returns counts of what was added. `checked`:
        the file as `load_export` read it already (the CLI checks it before opening a library).
        """
        doc = checked or load_export(Path(path).expanduser())  # every check before the first write
        return transfer.Importer(self.db, self.config, self._habits, self.clock).run(doc)


def _hash_file(path: str | os.PathLike) -> str:
    from ..fingerprint import content_hash

    try:
        return content_hash(path)
    except OSError as exc:
        raise LibraryError(f"cannot read {path}: {exc.strerror or exc}") from None


def _suggestions(rule_set: rules.Rules, found, scored: list[ranking.ScoredTag],
                 ) -> list[HashtagSuggestion]:
    """The ranked tags as suggestions: the always-add rules first, then the ranking."""
    out: list[HashtagSuggestion] = []
    for tag in dict.fromkeys(rule_set.canon(t) for t in rule_set.always):
        if tag in rule_set.blocked:
            continue
        out.append(HashtagSuggestion(tag=tag, score=1.0, source="rule", parts={"rule": 1.0},
                                     reason="always added (your rule)"))
    for s in scored:
        if not is_valid_tag(s.tag):
            continue  # an odd tag in the library (imported by an older hashlens)
        cand = found.merged[s.tag]
        reason = s.reason
        if reason == "suggested from the photo" and cand.reason:
            reason = cand.reason
        out.append(HashtagSuggestion(
            tag=s.tag, score=s.score, source=cand.source, token_indices=cand.token_indices,
            words=cand.words, parts=s.parts, reason=reason))
    return out


def history_for(library: TagLibrary | None, content_hash: str | None) -> TagHistory | None:
    """`library.tag_history(content_hash)`, or None without a library or when it cannot be
    read (logged: the tagging code then goes on without the user's history)."""
    if library is None:
        return None
    try:
        return library.tag_history(content_hash or None)
    except LibraryError as exc:
        log.warning("library history left out of popular/trending tags: %s", exc)
        return None


__all__ = ["DB_NAME", "PhotoRecord", "RankingConfig", "TagHistory", "TagLibrary",
           "TagPreference", "history_for"]
