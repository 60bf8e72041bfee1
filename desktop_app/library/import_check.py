"""Checks a library export before `hashlens library import` writes anything.

`load_export(path)` reads the file and `check_document(data)` checks all of it against the export's
schema (what `TagLibrary.export_json` writes) and returns typed records; the first thing wrong
raises ImportCheckError naming that record, e.g.

    photos[251].decisions[2].tag: '<script>' is not a valid hashtag

so a bad file changes nothing: the library is written only after the whole file passed.

What is checked: JSON that parses (UTF-8, not nested absurdly deep, no number too long), the
format and its version, every field's type (a bool is not a number), numbers finite and in
range (times, sizes, positions, scores, weights), content hashes, text without control
characters, every tag through the same normaliser as typed tags (`tagging.rules.normalize_tag`:
a tag is valid only if it is already in that form, `#` then lowercase letters, digits and
underscores, with a letter), decision states, rule kinds and targets (no synonym loops, no tag
both blocked and always added, no rule twice), one record per photo, and embeddings (base64,
dtype f2/f4, size matching `dim`, finite values).

`is_valid_tag` is also what keeps odd tags (from files imported by older versions) out of the
library's outputs.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LibraryError

EXPORT_FORMAT = "hashlens-library"  # what TagLibrary.export_json writes (store uses these)
EXPORT_VERSION = 1
STATES = ("approved", "rejected", "added", "removed")  # ranking.STATES, in the schema's order
RULE_KINDS = ("block", "synonym", "always")
DTYPES = {"f2": 2, "f4": 4}

MAX_TAG_CHARS = 256
MAX_NAME_CHARS = 200  # model versions, sources, embedding models
MAX_TEXT_CHARS = 10_000  # a caption
MAX_TOKENS = 1_000
MAX_PATH_CHARS = 32_767  # Windows' long-path limit
TIME_MIN, TIME_MAX = 0.0, 7.3e9  # 1970 .. 2201: decision and record times (seconds)
MTIME_MIN = -2.3e9  # a file's mtime may be before 1970
MAX_FILE_SIZE = 2**62
MAX_PIXELS_SIDE = 1_000_000
MAX_POSITION = 1_000_000
MAX_COUNT = 2**53
MAX_DIM = 16_384
MAX_EMB_ABS = 1e6
MAX_WEIGHT_ABS = 1e6
MAX_SCORE_ABS = 1e6

_HASH = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,127}")  # SHA-256 hex in practice
_SOURCE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_BAD_TEXT_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})  # control, format (bidi...), surrogates


class ImportCheckError(LibraryError):
    """The file is not a valid library export; `where` names the first bad record."""

    def __init__(self, where: str, problem: str, source: str | None = None):
        self.where = where
        self.problem = problem
        self.source = source
        text = f"{where}: {problem}" if where else problem
        if source is not None:
            text = f"cannot import {source}: {text}; nothing was imported"
        super().__init__(text)


# -- typed records -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RuleImport:
    kind: str
    tag: str
    target: str | None  # synonyms: the final tag (chains in the file are resolved)
    created_at: float | None


@dataclass(frozen=True, slots=True)
class PathImport:
    path: str
    first_seen: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class CaptionImport:
    model_version: str
    caption: str
    tokens: tuple[str, ...]
    log_prob: float | None
    created_at: float | None


@dataclass(frozen=True, slots=True)
class SuggestionImport:
    model_version: str
    tag: str
    score: float
    source: str
    position: int
    created_at: float | None


@dataclass(frozen=True, slots=True)
class DecisionImport:
    tag: str
    state: str
    at: float


@dataclass(frozen=True, slots=True)
class EmbeddingImport:
    dtype: str  # "f2" or "f4", little-endian
    dim: int
    model: str | None
    blob: bytes  # the decoded data, dim * itemsize bytes, finite values


@dataclass(frozen=True, slots=True)
class PhotoImport:
    content_hash: str
    path: str
    file_size: int | None
    mtime: float | None
    width: int | None
    height: int | None
    added_at: float | None
    updated_at: float | None
    paths: tuple[PathImport, ...]
    captions: tuple[CaptionImport, ...]
    suggestions: tuple[SuggestionImport, ...]
    decisions: tuple[DecisionImport, ...]
    embedding: EmbeddingImport | None


@dataclass(frozen=True, slots=True)
class LibraryImport:
    format_version: int
    schema_version: int | None
    exported_at: float | None
    weights: dict[str, float] | None
    weights_n: int
    rules: tuple[RuleImport, ...]
    photos: tuple[PhotoImport, ...]


# -- tags ----------------------------------------------------------------------------------
def is_valid_tag(tag: object) -> bool:
    """True for a tag already in the form typed tags are normalised to (either style):
    '#' then lowercase letters, digits and '_' (as word separators only), with a letter."""
    return isinstance(tag, str) and _valid_tag(tag)


@lru_cache(maxsize=65536)
def _valid_tag(tag: str) -> bool:
    if not 2 <= len(tag) <= MAX_TAG_CHARS or tag[0] != "#":
        return False
    from ..tagging.rules import normalize_tag  # 50 ms of imports: only when tags are checked

    return normalize_tag(tag, "joined") == tag or normalize_tag(tag, "underscored") == tag


# -- reading -------------------------------------------------------------------------------
def read_document(path: str | Path) -> Any:
    """The file's JSON value; ImportCheckError (a LibraryError) when it is not JSON at all."""
    source = Path(path)
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise LibraryError(f"cannot read {source}: {exc.strerror or exc}") from None
    return parse_document(raw, str(source))


def parse_document(raw: bytes, source: str | None = None) -> Any:
    def fail(problem: str) -> ImportCheckError:
        return ImportCheckError("", problem, source)

    try:
        text = raw.decode("utf-8-sig")  # (a byte-order mark from an editor is fine)
    except UnicodeDecodeError as exc:
        raise fail(f"the file is not UTF-8 text (byte {exc.start}), so not a hashlens "
                   "library export") from None
    if not text.strip():
        raise fail("the file is empty")
    try:
        return json.loads(text)
    except RecursionError:
        raise fail("the file's JSON is nested too deeply to be a hashlens library export") from None
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise fail(f"the file ends too early (truncated?): {exc.msg} at line {exc.lineno}, "
                       f"column {exc.colno}") from None
        raise fail(f"the file is not valid JSON: {exc.msg} at line {exc.lineno}, "
                   f"column {exc.colno}") from None
    except ValueError as exc:  # an integer of more than 4300 digits (int_max_str_digits)
        text = str(exc).split(";")[0] if "digits" in str(exc) else _first_line(str(exc))
        raise fail(f"the file is not valid JSON: {text}") from None


def load_export(path: str | Path) -> LibraryImport:
    """Read and check a whole export; ImportCheckError names the first bad record."""
    data = read_document(path)
    try:
        return check_document(data)
    except ImportCheckError as exc:
        raise ImportCheckError(exc.where, exc.problem, str(path)) from None


# -- checking ------------------------------------------------------------------------------
def check_document(data: Any) -> LibraryImport:
    """The whole export as typed records; ImportCheckError for the first thing wrong."""
    if not isinstance(data, dict):
        raise ImportCheckError(
            "", f"a hashlens library export is a JSON object, this file holds {_kind(data)}")
    fmt = data.get("format")
    if fmt != EXPORT_FORMAT:
        problem = "is missing" if fmt is None else f"is {_show(fmt)}"
        raise ImportCheckError(
            "format", f"{problem}, not {EXPORT_FORMAT!r}: not a hashlens library export")
    if "format_version" not in data:
        raise ImportCheckError("format_version", "is missing")
    version = _int(data["format_version"], "format_version", 0, MAX_COUNT)
    if version > EXPORT_VERSION:
        raise ImportCheckError(
            "format_version", f"is {version}: the file was exported by a newer hashlens (this "
            f"one reads up to {EXPORT_VERSION}); update hashlens to import it")
    if version < 1:
        raise ImportCheckError("format_version", f"{version} is not a known format version")
    schema = _opt(data.get("schema_version"), _int, "schema_version", 0, MAX_COUNT)
    exported_at = _opt(data.get("exported_at"), _time, "exported_at")
    weights = None
    if data.get("weights") is not None:
        raw = _dict(data["weights"], "weights")
        weights = {}
        for key, value in raw.items():
            _name(key, "weights", allow_empty=False)
            weights[key] = _number(value, f"weights[{key!r}]", -MAX_WEIGHT_ABS, MAX_WEIGHT_ABS)
    weights_n = _opt(data.get("weights_n"), _int, "weights_n", 0, MAX_COUNT) or 0
    rules = check_rules(_list(data.get("rules", []), "rules"))
    photos_raw = _list(data.get("photos", []), "photos")
    photos: list[PhotoImport] = []
    first_at: dict[str, int] = {}
    for i, obj in enumerate(photos_raw):
        photo = check_photo(obj, f"photos[{i}]")
        seen = first_at.setdefault(photo.content_hash, i)
        if seen != i:
            raise ImportCheckError(
                f"photos[{i}].content_hash",
                f"{_show(photo.content_hash)} is already photos[{seen}]: one record per photo")
        photos.append(photo)
    return LibraryImport(version, schema, exported_at, weights, weights_n, tuple(rules),
                         tuple(photos))


def check_rules(items: list) -> list[RuleImport]:
    """The rules, checked one by one and then together (duplicates, conflicts, loops)."""
    out: list[RuleImport] = []
    index: dict[tuple[str, str], int] = {}
    for i, obj in enumerate(items):
        where = f"rules[{i}]"
        obj = _dict(obj, where)
        kind = _field(obj, "kind", where)
        if not isinstance(kind, str) or kind not in RULE_KINDS:
            raise ImportCheckError(
                f"{where}.kind", f"{_show(kind)} is not a rule kind ({', '.join(RULE_KINDS)})")
        tag = _tag(_field(obj, "tag", where), f"{where}.tag")
        target = obj.get("target")
        if kind == "synonym":
            target = _tag(_field(obj, "target", where), f"{where}.target")
            if target == tag:
                raise ImportCheckError(f"{where}.target", f"{tag} cannot be a synonym of itself")
        elif target is not None:
            raise ImportCheckError(
                f"{where}.target", f"a {kind!r} rule has no target, this one has {_show(target)}")
        created = _opt(obj.get("created_at"), _time, f"{where}.created_at")
        key = (kind, tag)
        if key in index:
            raise ImportCheckError(where, f"a second {kind!r} rule for {tag} (rules[{index[key]}])")
        other = {"block": "always", "always": "block"}.get(kind)
        if other and (other, tag) in index:
            raise ImportCheckError(
                where, f"{tag} is both blocked and always added (rules[{index[(other, tag)]}])")
        index[key] = i
        out.append(RuleImport(kind, tag, target, created))
    final = _resolve_synonyms(out)
    return [
        RuleImport(r.kind, r.tag, final[r.tag], r.created_at) if r.kind == "synonym" else r
        for r in out
    ]


def _resolve_synonyms(rules: list[RuleImport]) -> dict[str, str]:
    """alias -> its final tag; ImportCheckError at the rule that closes a loop."""
    target = {r.tag: r.target for r in rules if r.kind == "synonym"}
    position = {r.tag: i for i, r in enumerate(rules) if r.kind == "synonym"}
    final: dict[str, str] = {}
    for alias in target:
        path: list[str] = []
        on_path: set[str] = set()
        node = alias
        while node in target and node not in final:
            if node in on_path:
                loop = path[path.index(node):]
                closing = max(loop, key=position.__getitem__)
                shown = " -> ".join([*loop[:6], "..." if len(loop) > 6 else node])
                raise ImportCheckError(
                    f"rules[{position[closing]}]",
                    f"synonym {closing} -> {target[closing]} makes a loop ({shown})")
            path.append(node)
            on_path.add(node)
            node = target[node]
        end = final.get(node, node)
        for n in path:
            final[n] = end
    return final


def check_photo(obj: Any, where: str) -> PhotoImport:
    """One photo record (see TagLibrary._export_photos)."""
    obj = _dict(obj, where)
    h = _field(obj, "content_hash", where)
    if not isinstance(h, str) or not _HASH.fullmatch(h):
        raise ImportCheckError(
            f"{where}.content_hash",
            f"{_show(h)} is not a content hash (hashlens writes SHA-256 hex digests)")
    paths = tuple(
        _path_row(p, f"{where}.paths[{j}]")
        for j, p in enumerate(_list(obj.get("paths", []), f"{where}.paths"))
    )
    captions = tuple(
        _caption(c, f"{where}.captions[{j}]")
        for j, c in enumerate(_list(obj.get("captions", []), f"{where}.captions"))
    )
    suggestions = tuple(
        _suggestion(s, f"{where}.suggestions[{j}]")
        for j, s in enumerate(_list(obj.get("suggestions", []), f"{where}.suggestions"))
    )
    decisions = tuple(
        _decision(d, f"{where}.decisions[{j}]")
        for j, d in enumerate(_list(obj.get("decisions", []), f"{where}.decisions"))
    )
    emb = obj.get("embedding")
    path = obj.get("path")
    return PhotoImport(
        content_hash=h,
        path="" if path is None else _path(path, f"{where}.path"),
        file_size=_opt(obj.get("file_size"), _int, f"{where}.file_size", 0, MAX_FILE_SIZE),
        mtime=_opt(obj.get("mtime"), _number, f"{where}.mtime", MTIME_MIN, TIME_MAX),
        width=_opt(obj.get("width"), _int, f"{where}.width", 0, MAX_PIXELS_SIDE),
        height=_opt(obj.get("height"), _int, f"{where}.height", 0, MAX_PIXELS_SIDE),
        added_at=_opt(obj.get("added_at"), _time, f"{where}.added_at"),
        updated_at=_opt(obj.get("updated_at"), _time, f"{where}.updated_at"),
        paths=paths,
        captions=captions,
        suggestions=suggestions,
        decisions=decisions,
        embedding=None if emb is None else _embedding(emb, f"{where}.embedding"),
    )


def _path_row(obj: Any, where: str) -> PathImport:
    row = _list(obj, where)
    if len(row) != 3:
        raise ImportCheckError(where, f"is a list of {len(row)}, not [path, first_seen, last_seen]")
    return PathImport(_path(row[0], f"{where}[0]"), _time(row[1], f"{where}[1]"),
                      _time(row[2], f"{where}[2]"))


def _caption(obj: Any, where: str) -> CaptionImport:
    obj = _dict(obj, where)
    tokens = _list(obj.get("tokens") or [], f"{where}.tokens")
    if len(tokens) > MAX_TOKENS:
        raise ImportCheckError(f"{where}.tokens", f"has {len(tokens)} tokens (at most {MAX_TOKENS})")
    return CaptionImport(
        model_version=_name(_field(obj, "model_version", where), f"{where}.model_version"),
        caption=_text(_field(obj, "caption", where), f"{where}.caption", MAX_TEXT_CHARS),
        tokens=tuple(_name(t, f"{where}.tokens[{k}]") for k, t in enumerate(tokens)),
        log_prob=_opt(obj.get("log_prob"), _number, f"{where}.log_prob", -MAX_SCORE_ABS,
                      MAX_SCORE_ABS),
        created_at=_opt(obj.get("created_at"), _time, f"{where}.created_at"),
    )


def _suggestion(obj: Any, where: str) -> SuggestionImport:
    obj = _dict(obj, where)
    source = _field(obj, "source", where)
    if not isinstance(source, str) or not _SOURCE.fullmatch(source):
        raise ImportCheckError(f"{where}.source", f"{_show(source)} is not a suggestion source")
    return SuggestionImport(
        model_version=_name(_field(obj, "model_version", where), f"{where}.model_version"),
        tag=_tag(_field(obj, "tag", where), f"{where}.tag"),
        score=_number(_field(obj, "score", where), f"{where}.score", -MAX_SCORE_ABS,
                      MAX_SCORE_ABS),
        source=source,
        position=_int(_field(obj, "position", where), f"{where}.position", 0, MAX_POSITION),
        created_at=_opt(obj.get("created_at"), _time, f"{where}.created_at"),
    )


def _decision(obj: Any, where: str) -> DecisionImport:
    row = _list(obj, where)
    if len(row) != 3:
        raise ImportCheckError(where, f"is a list of {len(row)}, not [tag, state, time]")
    tag = _tag(row[0], f"{where}.tag")
    state = row[1]
    if not isinstance(state, str) or state not in STATES:
        raise ImportCheckError(
            f"{where}.state", f"{_show(state)} is not a decision state ({', '.join(STATES)})")
    return DecisionImport(tag, state, _time(row[2], f"{where}.at"))


def _embedding(obj: Any, where: str) -> EmbeddingImport:
    obj = _dict(obj, where)
    dtype = obj.get("dtype") or "f2"
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise ImportCheckError(f"{where}.dtype", f"{_show(dtype)} is not 'f2' or 'f4'")
    data = _field(obj, "data", where)
    if not isinstance(data, str):
        raise ImportCheckError(f"{where}.data", f"expected base64 text, got {_kind(data)}")
    try:
        blob = base64.b64decode(data.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise ImportCheckError(f"{where}.data", "is not valid base64") from None
    size = DTYPES[dtype]
    if not blob or len(blob) % size:
        raise ImportCheckError(
            f"{where}.data", f"holds {len(blob)} bytes, not a whole number of {dtype} values")
    n = len(blob) // size
    dim = _opt(obj.get("dim"), _int, f"{where}.dim", 1, MAX_DIM)
    if dim is not None and dim != n:
        raise ImportCheckError(f"{where}.dim", f"is {dim} but the data holds {n} values")
    if n > MAX_DIM:
        raise ImportCheckError(f"{where}.data", f"holds {n} values (at most {MAX_DIM})")
    vec = np.frombuffer(blob, dtype="<" + dtype)
    with np.errstate(all="ignore"):
        bad = not np.all(np.isfinite(vec)) or float(np.max(np.abs(vec))) > MAX_EMB_ABS
    if bad:
        raise ImportCheckError(f"{where}.data", "has NaN, infinite or absurdly large values")
    model = obj.get("model")
    if model is not None:
        model = _name(model, f"{where}.model")
    return EmbeddingImport(dtype, n, model, blob)


# -- field checks --------------------------------------------------------------------------
def _field(obj: dict, key: str, where: str) -> Any:
    if key not in obj:
        raise ImportCheckError(f"{where}.{key}", "is missing")
    return obj[key]


def _opt(value: Any, check, where: str, *args):
    return None if value is None else check(value, where, *args)


def _dict(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise ImportCheckError(where, f"expected an object, got {_kind(value)}")
    return value


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise ImportCheckError(where, f"expected a list, got {_kind(value)}")
    return value


def _number(value: Any, where: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ImportCheckError(where, f"expected a number, got {_kind(value)}")
    try:
        x = float(value)
    except OverflowError:  # an int beyond float range
        x = math.inf
    if not math.isfinite(x):
        raise ImportCheckError(where, f"{_show(value)} is not a finite number")
    if not lo <= x <= hi:
        raise ImportCheckError(where, f"{_show(value)} is out of range ({lo:g} to {hi:g})")
    return x


def _time(value: Any, where: str) -> float:
    return _number(value, where, TIME_MIN, TIME_MAX)


def _int(value: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ImportCheckError(where, f"expected a whole number, got {_kind(value)}")
    if not lo <= value <= hi:
        raise ImportCheckError(where, f"{_show(value)} is out of range ({lo} to {hi})")
    return value


def _text(value: Any, where: str, limit: int, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise ImportCheckError(where, f"expected text, got {_kind(value)}")
    if len(value) > limit:
        raise ImportCheckError(where, f"is {len(value)} characters long (at most {limit})")
    if not value and not allow_empty:
        raise ImportCheckError(where, "is empty")
    for ch in value:
        if ch < " " or (ch > "~" and unicodedata.category(ch) in _BAD_TEXT_CATEGORIES):
            raise ImportCheckError(
                where, f"{_show(value)} holds a control character ({ascii(ch)})")
    return value


def _name(value: Any, where: str, allow_empty: bool = True) -> str:
    return _text(value, where, MAX_NAME_CHARS, allow_empty)


def _path(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ImportCheckError(where, f"expected a path (text), got {_kind(value)}")
    if len(value) > MAX_PATH_CHARS:
        raise ImportCheckError(where, f"is {len(value)} characters long (at most {MAX_PATH_CHARS})")
    if "\x00" in value:
        raise ImportCheckError(where, f"{_show(value)} holds a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ImportCheckError(where, f"{_show(value)} is not valid Unicode") from None
    return value


def _tag(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ImportCheckError(where, f"expected a hashtag (text), got {_kind(value)}")
    if not is_valid_tag(value):
        raise ImportCheckError(
            where, f"{_show(value)} is not a valid hashtag ('#' then lowercase letters, digits "
            "and _, with a letter)")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"a number ({_show(value)})"
    if isinstance(value, str):
        return f"text ({_show(value)})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: Any, limit: int = 60) -> str:
    """A value for a one-line message: repr (control characters escaped), cut short."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**20:
        text = f"a {len(str(abs(value)))}-digit number"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else text


__all__ = [
    "CaptionImport",
    "DecisionImport",
    "EmbeddingImport",
    "ImportCheckError",
    "LibraryImport",
    "PathImport",
    "PhotoImport",
    "RuleImport",
    "SuggestionImport",
    "check_document",
    "check_photo",
    "check_rules",
    "is_valid_tag",
    "load_export",
    "parse_document",
    "read_document",
]
