"""The weights of the score's parts, learned online from the user's decisions.

Each decision on a photo the model tagged is a training example for ranking.sgd_update: the
photo's evidence rebuilt as `rank` saw it (its stored suggestions of the latest run, its
embedding, the decisions made on it before these), kept = 1, rejected = 0. The weights live in
`meta` ("weights", and "weights_n": how many examples taught them).
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np

from . import ranking
from .evidence import Sources, gather
from .photos import latest_suggestions
from .ranking import POSITIVE_STATES, RankingConfig
from .rules import load_rules


def load_weights(conn: sqlite3.Connection, cfg: RankingConfig) -> dict[str, float]:
    """The weights of the parts: learned from this user's decisions, else the defaults."""
    weights = ranking.default_weights(cfg)
    if cfg.learn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'weights'").fetchone()
        if row is not None:
            try:
                learned = json.loads(row[0])
                weights.update({k: float(v) for k, v in learned.items() if k in weights})
            except (ValueError, TypeError, AttributeError):
                pass  # a damaged value: the defaults are always safe
    return weights


def weights_n(conn: sqlite3.Connection) -> int:
    """How many examples the stored weights learned from."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'weights_n'").fetchone()
    try:
        return int(row[0]) if row else 0
    except ValueError:
        return 0


def save_weights(conn: sqlite3.Connection, weights: dict[str, float], n: int) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
        [("weights", json.dumps({k: round(v, 6) for k, v in weights.items()})),
         ("weights_n", str(int(n)))],
    )


def learn(conn: sqlite3.Connection, src: Sources, pid: int, ops: dict[str, str],
          emb: np.ndarray | None) -> None:
    """Update the weights with this photo's new decisions (before they count).

    Only tags the ranker could have offered teach it (the model's, or ones with library
    evidence); a photo never tagged (feedback on a new photo) teaches nothing."""
    cands = latest_suggestions(conn, pid)
    if not cands:
        return
    rules = load_rules(conn)
    found = gather(conn, src, rules, cands, emb, pid, (), own=False, extra_tags=list(ops))
    by_tag = {ev.tag: ev for ev in found.evidence}
    examples = []
    for tag, state in ops.items():
        ev = by_tag.get(rules.canon(tag))
        if ev is None:
            continue  # blocked or always-added: the rules decide, nothing to learn
        if ev.model is None and ev.nb_support <= 0 and ev.ctx <= 0 and ev.cooc <= 0:
            continue  # a hand-typed tag the ranker could not have offered
        examples.append((ranking.features(ev, src.config), state in POSITIVE_STATES))
    if not examples:
        return
    weights = ranking.sgd_update(load_weights(conn, src.config), examples, src.config)
    save_weights(conn, weights, weights_n(conn) + len(examples))
