"""Trending hashtag lists the user imports (`hashlens trends import`), and which of their tags
relate to a photo.

There is no trending feed offline, so the user brings one: a paste from the clipboard or a
.txt/.csv file, one or more tags a line (`#beachlife #sunsetlovers`, `beach life`, `3. #ootd`,
`beachlife,2024-06-01`), optionally with a date (a `date: YYYY-MM-DD` line, a date column, or
`--date`). A list expires `days` days after its date. Lines that make no tag are reported, not
guessed at.

The lists live in `trends.json` in the library folder (next to library.sqlite3), a small JSON
file rather than tables, so the library's schema stays as it is. A trending tag is suggested
for a photo (source "trending") when it relates to the photo's caption words, its model
candidates or its approved tags: one holds the other at its start or end and the rest is a word
or a form piece (#beachlife ~ beach, #sunsetbeach ~ beach; #catering is not about a cat).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from ..errors import HashlensError
from ..results import HashtagSuggestion
from . import popularity as pop
from .rules import clean_word, is_function_word, normalize_tag, singularize, tag_key

FILE_NAME = "trends.json"
DEFAULT_DAYS = 7
MAX_DAYS = 3650
MAX_TAG_CHARS = 100  # a longer "tag" is a pasted sentence or junk
MAX_TAGS_PER_LIST = 5000
MAX_FILE_BYTES = 5_000_000
MAX_TRENDING = 5  # trending tags added to one photo's candidates
TRENDING_FACTOR = 0.6  # a trending tag's score relative to what it relates to
MIN_TERM = 3
_HEADER_WORDS = frozenset(
    {"tag", "tags", "hashtag", "hashtags", "date", "day", "rank", "count", "posts", "name", "#"}
)
_DATE = re.compile(r"^\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\s*$")
_DATE_LINE = re.compile(r"^\s*date\s*[:=]\s*(\S+)\s*$", re.IGNORECASE)
_RANK = re.compile(r"^\s*\d{1,5}\s*[.):]\s+")
_COUNT = re.compile(r"^\s*#?\d[\d.,\s]*[kmb]?\s*(posts?|uses?|tweets?)?\s*$", re.IGNORECASE)
_HASHED = re.compile(r"#[^\s#,;]*")


def parse_date(text: str) -> dt.date | None:
    """"2024-06-01" (or 2024/06/01) -> date; None when it is not a valid date."""
    m = _DATE.match(text or "")
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


@dataclass(frozen=True)
class Rejected:
    """A line (or a piece of one) that made no tag, and why."""

    line: int  # 1-based
    text: str
    reason: str


@dataclass
class Parsed:
    """What a trending list's text holds."""

    tags: list[tuple[str, dt.date | None]] = field(default_factory=list)  # tag, its own date
    rejected: list[Rejected] = field(default_factory=list)
    duplicates: int = 0
    date: dt.date | None = None  # from a `date: ...` line


def _short(text: str, n: int = 60) -> str:
    text = text.strip()
    return text if len(text) <= n else text[: n - 1] + "…"


def _check(raw: str) -> tuple[str | None, str]:
    """(tag, "") or (None, why not) for one piece of text meant as a tag."""
    text = raw.strip()
    if not text.lstrip("#").strip():
        return None, "empty"
    tag = normalize_tag(text)
    if tag is None:
        return None, "no letters (a tag needs a letter; emoji and punctuation are dropped)"
    if len(tag) - 1 > MAX_TAG_CHARS:
        return None, f"longer than {MAX_TAG_CHARS} characters"
    return tag, ""


def _delimiter(text: str) -> str:
    if "\t" in text:
        return "\t"
    return ";" if text.count(";") > text.count(",") else ","


def parse_trending(text: str) -> Parsed:
    """Tags of a pasted or loaded trending list, with the lines that made none.

    Each line is split into fields (tab, ';' or ','; CSV quoting allowed). A field that is a
    date dates the line's tags; counts ("1.2M posts") and a header row are skipped. Fields with
    '#' give each '#word' as a tag; a field without gives one tag ("beach life" -> #beachlife).
    """
    out = Parsed()
    seen: set[str] = set()
    text = (text or "").lstrip("\ufeff")
    delim = _delimiter(text)
    header_done = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            out.rejected.append(Rejected(number, line, "empty line"))
            continue
        m = _DATE_LINE.match(line)
        if m:
            d = parse_date(m.group(1))
            if d is None:
                out.rejected.append(Rejected(number, _short(line), "not a date (use YYYY-MM-DD)"))
            else:
                out.date = d
            continue
        try:
            fields = next(csv.reader([line], delimiter=delim))
        except csv.Error:
            fields = line.split(delim)
        fields = [f for f in fields if f.strip()]
        if not header_done and fields and all(f.strip().lower() in _HEADER_WORDS for f in fields):
            header_done = True
            continue
        header_done = True
        row_date = None
        pieces: list[str] = []
        for f in fields:
            d = parse_date(f)
            if d is not None:
                row_date = d
            elif "#" in f and _HASHED.search(f) and not _COUNT.match(f):
                pieces.extend(_HASHED.findall(f))
            elif _COUNT.match(f):
                continue
            else:
                pieces.append(_RANK.sub("", f))
        if not pieces:
            out.rejected.append(Rejected(number, _short(line), "no tag on this line"))
            continue
        for piece in pieces:
            tag, why = _check(piece)
            if tag is None:
                out.rejected.append(Rejected(number, _short(piece), why))
            elif tag in seen:
                out.duplicates += 1
            elif len(out.tags) >= MAX_TAGS_PER_LIST:
                out.rejected.append(
                    Rejected(number, _short(piece), f"over {MAX_TAGS_PER_LIST} tags in one list")
                )
            else:
                seen.add(tag)
                out.tags.append((tag, row_date))
    return out


@dataclass
class TrendList:
    """One imported list. Dates are ISO strings so the JSON file stays readable."""

    id: str
    source: str  # file name or "clipboard"
    imported_at: str  # ISO date and time
    date: str  # the list's date (YYYY-MM-DD); its tags are trending from then
    days: int  # it expires `days` days after its date
    tags: list[str]
    tag_dates: dict[str, str] = field(default_factory=dict)  # a tag's own date, where given

    def expires(self, tag: str | None = None) -> dt.date:
        """The first day on which the list (or one of its tags) no longer counts."""
        start = dt.date.fromisoformat(self.tag_dates.get(tag, self.date) if tag else self.date)
        return start + dt.timedelta(days=self.days)

    def active_tags(self, today: dt.date) -> list[str]:
        return [t for t in self.tags if today < self.expires(t)]

    def is_expired(self, today: dt.date) -> bool:
        return not self.active_tags(today)

    @classmethod
    def from_json(cls, d: Mapping) -> TrendList:
        t = cls(
            id=str(d["id"]),
            source=str(d.get("source", "")),
            imported_at=str(d.get("imported_at", "")),
            date=str(d["date"]),
            days=int(d["days"]),
            tags=[str(x) for x in d.get("tags", [])],
            tag_dates={str(k): str(v) for k, v in dict(d.get("tag_dates", {})).items()},
        )
        dt.date.fromisoformat(t.date)  # raises ValueError for a damaged entry
        return t


@dataclass
class ImportReport:
    """What `import` did: the list kept, and the lines that gave no tag."""

    list: TrendList | None
    rejected: list[Rejected]
    duplicates: int

    @property
    def added(self) -> int:
        return len(self.list.tags) if self.list else 0

    def to_json(self) -> dict:
        return {
            "added": self.added,
            "list": asdict(self.list) if self.list else None,
            "rejected": [asdict(r) for r in self.rejected],
            "duplicates": self.duplicates,
        }


def trends_path(folder: str | os.PathLike) -> Path:
    return Path(folder) / FILE_NAME


class TrendStore:
    """The user's trending lists in `<folder>/trends.json`.

    Writes go to a temporary file and are renamed, so a crash never leaves half a file. A file
    that cannot be read is not overwritten by an import: the error says where it is.
    """

    def __init__(self, folder: str | os.PathLike, today=None):
        self.path = trends_path(folder)
        self._today = today  # a callable returning a date, for tests
        self._cache: tuple[tuple[int, int], list[TrendList]] | None = None

    def today(self) -> dt.date:
        return self._today() if self._today else dt.date.today()

    def load(self) -> list[TrendList]:
        """The stored lists (cached while the file is unchanged); [] when there is none."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise HashlensError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        stamp = (st.st_mtime_ns, st.st_size)
        if self._cache is not None and self._cache[0] == stamp:
            return list(self._cache[1])
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            lists = [TrendList.from_json(d) for d in data.get("lists", [])]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise HashlensError(
                f"the trending lists file {self.path} is damaged ({exc}); "
                "move it away or run `hashlens trends clear`"
            ) from None
        self._cache = (stamp, lists)
        return list(lists)

    def save(self, lists: Sequence[TrendList]) -> None:
        data = {"version": 1, "lists": [asdict(t) for t in lists]}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".trends.", suffix=".tmp", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False, indent=1)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise HashlensError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self._cache = None

    def import_text(
        self, text: str, source: str = "clipboard", days: int = DEFAULT_DAYS,
        date: dt.date | None = None,
    ) -> ImportReport:
        """Parse and store a list; returns what was kept and what was not. A list with no valid
        tag is not stored."""
        if not 1 <= int(days) <= MAX_DAYS:
            raise HashlensError(f"--days must be between 1 and {MAX_DAYS}")
        parsed = parse_trending(text)
        if not parsed.tags:
            return ImportReport(None, parsed.rejected, parsed.duplicates)
        list_date = date or parsed.date or self.today()
        now = dt.datetime.now().astimezone().replace(microsecond=0).isoformat()
        new = TrendList(
            id=uuid.uuid4().hex[:8],
            source=source,
            imported_at=now,
            date=list_date.isoformat(),
            days=int(days),
            tags=[t for t, _ in parsed.tags],
            tag_dates={t: d.isoformat() for t, d in parsed.tags if d is not None and date is None},
        )
        lists = self.load()
        lists.append(new)
        self.save(lists)
        return ImportReport(new, parsed.rejected, parsed.duplicates)

    def import_file(
        self, path: str | os.PathLike, days: int = DEFAULT_DAYS, date: dt.date | None = None
    ) -> ImportReport:
        """Import a .txt or .csv file ("-" reads standard input, e.g. a paste piped in)."""
        if str(path) == "-":
            import sys

            return self.import_text(sys.stdin.read(), "stdin", days, date)
        p = Path(path)
        try:
            if p.stat().st_size > MAX_FILE_BYTES:
                raise HashlensError(f"{p} is over {MAX_FILE_BYTES // 1_000_000} MB: not a tag list")
            raw = p.read_bytes()
        except OSError as exc:
            raise HashlensError(f"cannot read {p}: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")  # spreadsheet exports on Windows
        return self.import_text(text, p.name, days, date)

    def clear(self, expired_only: bool = False) -> int:
        """Remove all lists (or the expired ones); returns how many were removed."""
        if not expired_only:
            n = 0
            if self.path.exists():
                try:
                    n = len(self.load())
                except HashlensError:
                    n = 1
                try:
                    self.path.unlink()
                except OSError as exc:
                    raise HashlensError(f"cannot remove {self.path}: {exc.strerror or exc}") from None
            self._cache = None
            return n
        today = self.today()
        lists = self.load()
        keep = [t for t in lists if not t.is_expired(today)]
        if len(keep) != len(lists):
            self.save(keep)
        return len(lists) - len(keep)

    def active(self) -> dict[str, TrendList]:
        """Trending tags now -> the newest list that holds them. Expired lists give nothing."""
        today = self.today()
        out: dict[str, TrendList] = {}
        for t in self.load():
            for tag in t.active_tags(today):
                old = out.get(tag)
                if old is None or t.date >= old.date:
                    out[tag] = t
        return out


# -- relating trending tags to a photo ------------------------------------------------------


def _word(piece: str) -> bool:
    """A word on its own: known to wordfreq (Zipf >= 2), or a short function word (of, my)."""
    if is_function_word(piece):
        return True
    if len(piece) < 3:
        return False
    return pop.known(piece, 2.0) if pop.available() else True


def _affix_ok(rest: str, affixes: frozenset[str]) -> bool:
    """Whether what is left after a whole word inside a tag is itself a word, two words, or a
    form piece ("life", "sofinstagram"), so "beach" matches #beachlife, "dog" #dogsofsummer,
    but "cat" not #catering."""
    if rest in ("s", "es") or rest in affixes:
        return True
    for r in (rest, rest[1:] if rest.startswith("s") else ""):
        if not r:
            continue
        if _word(r) and len(r) >= 3:
            return True
        if any(_word(r[:i]) and _word(r[i:]) for i in range(2, len(r) - 1)):
            return True
    return False


def relates(body: str, term: str, affixes: frozenset[str] | None = None) -> bool:
    """Whether tag body `body` and word or tag body `term` share a whole word at one end."""
    if len(body) < MIN_TERM or len(term) < MIN_TERM:
        return False
    if body == term:
        return True
    affixes = _form_affixes() if affixes is None else affixes
    for outer, inner in ((body, term), (term, body)):
        if len(inner) >= len(outer):
            continue
        if outer.startswith(inner) and _affix_ok(outer[len(inner):], affixes):
            return True
        if outer.endswith(inner) and _affix_ok(outer[: -len(inner)], affixes):
            return True
    return False


@cache
def _form_affixes() -> frozenset[str]:
    from .variants import templates

    return frozenset(p for t in templates() for p in (t.prefix, t.suffix) if p) | frozenset(
        "s" + t.suffix for t in templates() if t.suffix and not t.plural
    )


def photo_terms(
    candidates: Sequence[HashtagSuggestion],
    caption_tokens: Sequence[str] = (),
    approved: Iterable[str] = (),
) -> dict[str, tuple[float, str]]:
    """Words and tag bodies that describe a photo -> (strength 0..1, the tag shown as why).

    Model candidates count with their score, their single words a little less, the caption's
    other content words weakly, the user's approved tags strongly (the user chose them).
    """
    terms: dict[str, tuple[float, str]] = {}

    def put(term: str, strength: float, why: str) -> None:
        for t in {term, singularize(term)}:
            if len(t) >= MIN_TERM and strength > terms.get(t, (0.0, ""))[0]:
                terms[t] = (strength, why)

    for tag in approved:
        put(tag_key(tag), 0.8, tag)
    for c in candidates:
        if c.source in ("trending", "popular"):
            continue
        put(tag_key(c.tag), float(c.score), c.tag)
        for w in c.words:
            word = clean_word(w)
            if not is_function_word(word):
                put(word, 0.9 * float(c.score), c.tag)
    for tok in caption_tokens:
        word = clean_word(tok)
        if word and not is_function_word(word):
            put(word, 0.3, f'"{tok}"')
    return terms


def trending_suggestions(
    active: Mapping[str, TrendList],
    candidates: Sequence[HashtagSuggestion],
    caption_tokens: Sequence[str] = (),
    approved: Iterable[str] = (),
    limit: int = MAX_TRENDING,
) -> tuple[list[HashtagSuggestion], dict[str, TrendList]]:
    """Trending tags related to the photo (source "trending"), best first, at most `limit`,
    and -- separately -- the photo's existing candidates that are trending themselves (tag ->
    list) so the caller can say so without adding them twice."""
    if not active:
        return [], {}
    have = {tag_key(c.tag): c.tag for c in candidates}
    terms = photo_terms(candidates, caption_tokens, approved)
    affixes = _form_affixes()
    already: dict[str, TrendList] = {}
    found: list[HashtagSuggestion] = []
    for tag, trend in active.items():
        body = tag_key(tag)
        if body in have:
            already[have[body]] = trend
            continue
        best: tuple[float, str] | None = None
        for term, (strength, why) in terms.items():
            if (best is None or strength > best[0]) and relates(body, term, affixes):
                best = (strength, why)
        if best is None:
            continue
        strength, why = best
        parts = {"trending": 1.0, "related": round(strength, 4)}
        figure = pop.popularity(tag)
        if figure is not None:
            parts["popularity"] = figure
        found.append(
            HashtagSuggestion(
                tag=tag,
                score=round(TRENDING_FACTOR * strength, 6),
                source="trending",
                parts=parts,
                reason=f"trending ({_list_note(trend)}), related to {why}",
            )
        )
    found.sort(key=lambda s: (-s.score, -s.parts.get("popularity", 0.0), s.tag))
    return found[: max(0, limit)], already


def _list_note(t: TrendList) -> str:
    return f"your list {t.source!r} of {t.date}" if t.source else f"your list of {t.date}"


# -- `hashlens trends import|list|clear` ----------------------------------------------------


def run_trends(args) -> int:
    """The `hashlens trends` command (cli.py parses the arguments)."""
    import sys

    from ..paths import data_dir

    store = TrendStore(data_dir(getattr(args, "library", None)))
    action = args.trends_command
    if action == "import":
        date = None
        if getattr(args, "date", None):
            date = parse_date(args.date)
            if date is None:
                raise HashlensError(f"--date {args.date!r} is not a date (use YYYY-MM-DD)")
        report = store.import_file(args.file, days=args.days, date=date)
        if getattr(args, "json", False):
            print(json.dumps(report.to_json(), ensure_ascii=False))
        for r in report.rejected:
            if r.reason != "empty line":
                print(f"hashlens: line {r.line}: {r.text!r}: {r.reason}", file=sys.stderr)
        empty = sum(1 for r in report.rejected if r.reason == "empty line")
        if report.list is None:
            print("hashlens: no valid hashtag in the list: nothing imported", file=sys.stderr)
            return 1
        t = report.list
        skipped = len(report.rejected) - empty
        extra = [f"{skipped} skipped"] if skipped else []
        if report.duplicates:
            extra.append(f"{report.duplicates} duplicates")
        if empty:
            extra.append(f"{empty} empty lines")
        print(f"imported {report.added} trending tags from {t.source} (list {t.id}, dated {t.date}, "
              f"expires {t.expires().isoformat()})" + (f"; {', '.join(extra)}" if extra else ""),
              file=sys.stderr)
        return 0
    if action == "list":
        today = store.today()
        lists = store.load()
        if getattr(args, "json", False):
            print(json.dumps([{**asdict(t), "expires": t.expires().isoformat(),
                               "active": len(t.active_tags(today))} for t in lists],
                             ensure_ascii=False))
            return 0
        if not lists:
            print("no trending lists (import one with `hashlens trends import FILE`)")
        for t in lists:
            active = len(t.active_tags(today))
            state = "expired" if not active else f"active until {t.expires().isoformat()}"
            print(f"{t.id}\t{t.date}\t{active}/{len(t.tags)} tags active\t{state}\t{t.source}")
            if getattr(args, "tags", False):
                print("\t" + " ".join(t.tags))
        return 0
    n = store.clear(expired_only=getattr(args, "expired", False))
    print(f"removed {n} trending list(s)", file=sys.stderr)
    return 0
