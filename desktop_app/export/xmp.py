"""XMP sidecars with the hashtags as keywords (`dc:subject`), for photo managers.

digiKam, Lightroom and darktable read keywords from `dc:subject` (an rdf:Bag of rdf:li).
Keywords are written without the '#'. A sidecar that already exists (darktable keeps its edit
history in one) is updated in place: only `dc:subject` gains the new keywords, everything else
is kept: the xpacket wrapper, the XML declaration, padding and comments (text outside the root
element is kept byte for byte), the file's encoding (UTF-8, UTF-16 or UTF-32, with or without
a BOM), its permission bits, and a symlink (its target is updated, the link stays a link).
A read-only sidecar is left untouched and reported (`SidecarReadOnly`).

Sidecar name: an existing sidecar under either convention, `photo.jpg.xmp` (darktable,
digiKam) or `photo.xmp` (Lightroom), is the one updated; a new one is named after `style`:
`"append"` -> `photo.jpg.xmp` (the default), `"replace"` -> `photo.xmp`.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import secrets
import stat
import xml.etree.ElementTree as ET
import xml.parsers.expat as expat
from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import escape

from .instagram import clean_tags

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xml": "http://www.w3.org/XML/1998/namespace",
}
_RDF = "{" + NS["rdf"] + "}"
_DC = "{" + NS["dc"] + "}"

SIDECAR_NAMES = ("append", "replace")  # photo.jpg.xmp (darktable, digiKam), photo.xmp (Lightroom)
# UTF-32 first: its little-endian BOM begins with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class SidecarReadOnly(PermissionError):
    """The sidecar is read-only: it is left as it is, and the caller reports it."""


def keywords_from_tags(tags: Iterable[str]) -> list[str]:
    """'#teddybear' -> 'teddybear' (no limit: a photo manager takes any number of keywords)."""
    return [t[1:] for t in clean_tags(tags, limit=10_000)]


def sidecar_path(photo: str | os.PathLike, style: str = "append") -> Path:
    """The name of a new sidecar: photo.jpg.xmp ("append") or photo.xmp ("replace")."""
    p = Path(photo)
    return p.with_suffix(".xmp") if style == "replace" else p.with_name(p.name + ".xmp")


def find_sidecar(photo: str | os.PathLike, style: str = "append") -> Path:
    """The sidecar to write: an existing one under either naming (`style`'s first, .xmp before
    .XMP; a symlink counts, even a dangling one), else `sidecar_path(photo, style)`."""
    other = "append" if style == "replace" else "replace"
    for s in (style, other):
        base = sidecar_path(photo, s)
        for c in (base, base.with_suffix(".XMP")):
            if os.path.lexists(c):
                return c
    return sidecar_path(photo, style)


def xmp_packet(keywords: Iterable[str], description: str | None = None) -> str:
    """A fresh sidecar with dc:subject (and dc:description when given)."""
    items = "".join(f"\n     <rdf:li>{escape(k)}</rdf:li>" for k in keywords)
    desc = ""
    if description:
        desc = (
            "\n   <dc:description>\n    <rdf:Alt>\n"
            f'     <rdf:li xml:lang="x-default">{escape(description)}</rdf:li>\n'
            "    </rdf:Alt>\n   </dc:description>"
        )
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="{NS["x"]}" x:xmptk="hashlens">\n'
        f' <rdf:RDF xmlns:rdf="{NS["rdf"]}">\n'
        f'  <rdf:Description rdf:about="" xmlns:dc="{NS["dc"]}">{desc}\n'
        f"   <dc:subject>\n    <rdf:Bag>{items}\n    </rdf:Bag>\n   </dc:subject>\n"
        "  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n"
        '<?xpacket end="w"?>\n'
    )


def _detect_encoding(data: bytes) -> tuple[str, bytes]:
    """The codec of a sidecar's bytes and its byte-order mark (b"" when it has none).

    The BOM decides; without one, the NUL bytes around the first '<' tell UTF-16 and UTF-32
    apart (XML 1.0 appendix F); otherwise the XML declaration's encoding, else UTF-8.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec, bom
    head = data[:4]
    if len(head) == 4:
        if head[:3] == b"\0\0\0":
            return "utf-32-be", b""
        if head[1:] == b"\0\0\0":
            return "utf-32-le", b""
        if head[0] == 0 and head[2] == 0:
            return "utf-16-be", b""
        if head[1] == 0 and head[3] == 0:
            return "utf-16-le", b""
    m = re.match(rb"""\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""", data)
    if m:
        try:
            codec = codecs.lookup(m.group(1).decode("ascii")).name
        except LookupError:
            raise ValueError(f"not an XMP file (unknown encoding {m.group(1).decode('ascii')!r})") from None
        # A declaration that says UTF-16/32 over bytes without NULs is wrong about it: UTF-8.
        if not codec.startswith(("utf-16", "utf-32")):
            return codec, b""
    return "utf-8", b""


def decode_sidecar(data: bytes) -> tuple[str, str, bytes]:
    """(text, codec, BOM) of a sidecar file's bytes; `encode_sidecar` writes them back alike."""
    codec, bom = _detect_encoding(data)
    try:
        return data[len(bom):].decode(codec), codec, bom
    except UnicodeDecodeError as exc:
        raise ValueError(f"not an XMP file (not valid {codec}: {exc.reason})") from None


def encode_sidecar(text: str, codec: str = "utf-8", bom: bytes = b"") -> bytes:
    # Characters the file's encoding lacks (a Latin-1 sidecar, an emoji keyword) become &#...;
    return bom + text.encode(codec, errors="xmlcharrefreplace")


def _split_root(text: str) -> tuple[str, str, str]:
    """(before, root element, after): what surrounds the root element (the XML declaration, the
    xpacket processing instructions, comments, padding) is kept as text, since ElementTree
    drops everything outside the root. Raises ValueError when `text` is not XML."""
    parser = expat.ParserCreate()
    bounds: list[int] = []
    depth = 0

    def start(_name, _attrs):
        nonlocal depth
        if depth == 0:
            bounds.append(parser.CurrentByteIndex)
        depth += 1

    def end(_name):
        nonlocal depth
        depth -= 1
        if depth == 0:
            bounds.append(parser.CurrentByteIndex)

    parser.StartElementHandler, parser.EndElementHandler = start, end
    try:
        parser.Parse(text, True)  # a str is parsed as UTF-8, whatever the declaration says
    except expat.ExpatError as exc:
        raise ValueError(f"not an XMP file ({exc})") from None
    if len(bounds) < 2:
        raise ValueError("not an XMP file (no element)")
    data = text.encode("utf-8")  # expat's byte offsets are into the UTF-8 text
    begin, end_tag = bounds[0], bounds[1]
    stop = data.find(b">", max(end_tag, begin)) + 1  # the end tag's '>' (an empty root's own '>')
    if stop == 0:
        raise ValueError("not an XMP file (cannot find where its root element ends)")
    return data[:begin].decode("utf-8"), data[begin:stop].decode("utf-8"), data[stop:].decode("utf-8")


class _TreeBuilder(ET.TreeBuilder):
    """Keeps comments and processing instructions, and registers the file's own prefixes
    (darktable:, xmpMM:, ...) so that they are written back as they were."""

    def __init__(self):
        super().__init__(insert_comments=True, insert_pis=True)

    def start_ns(self, prefix: str, uri: str) -> None:
        if prefix and prefix != "xml":
            try:
                ET.register_namespace(prefix, uri)
            except ValueError:  # reserved prefixes such as ns0
                pass


def _parse(body: str) -> ET.Element:
    parser = ET.XMLParser(target=_TreeBuilder())
    parser.feed(body)
    return parser.close()


def _append(parent: ET.Element, child: ET.Element, level: int, unit: str = " ") -> None:
    """Append `child` to `parent` (at depth `level`), indented like its siblings (or by `unit`
    per level), so the rest of the file keeps its layout (only new elements get whitespace)."""
    kids = list(parent)
    if kids:
        before_last = kids[-2].tail if len(kids) > 1 else parent.text
        child.tail, kids[-1].tail = kids[-1].tail, before_last
    else:
        if not (parent.text or "").strip():
            parent.text = "\n" + unit * (level + 1)
        child.tail = "\n" + unit * level
    parent.append(child)


def merge_keywords(existing: str, keywords: Iterable[str], description: str | None = None) -> str:
    """Add `keywords` to an existing sidecar's dc:subject (kept ones first, no duplicates).

    Only the new elements are added (indented like their neighbours); the text around the root
    element and the comments and processing instructions inside it are kept. Returns `existing`
    itself when there is nothing to add. Raises ValueError when `existing` is not XMP (not XML,
    or no rdf:RDF).
    """
    before, body, after = _split_root(existing)
    try:
        root = _parse(body)
    except ET.ParseError as exc:
        raise ValueError(f"not an XMP file ({exc})") from None
    rdf = root if root.tag == _RDF + "RDF" else root.find(f"{_RDF}RDF")
    if rdf is None:
        raise ValueError("not an XMP file (no rdf:RDF)")
    parents = {c: p for p in root.iter() for c in p}
    m = re.search(r"\n([ \t]+)$", root.text or "")  # the file's indent: rdf:RDF's, one level deep
    unit = m.group(1) if m else " "

    def depth(e: ET.Element) -> int:
        n = 0
        while e in parents:
            e, n = parents[e], n + 1
        return n

    subject = rdf.find(f".//{_DC}subject")
    bag = None
    if subject is not None:
        bag = subject.find(f"{_RDF}Bag")
        if bag is None:
            bag = subject.find(f"{_RDF}Seq")  # wrong container, but the file's own: kept
    have = {(li.text or "").casefold() for li in bag.findall(f"{_RDF}li")} if bag is not None else set()
    new: list[str] = []
    for k in keywords:
        if k.casefold() not in have:
            new.append(k)
            have.add(k.casefold())
    add_description = bool(description) and rdf.find(f".//{_DC}description") is None
    if not new and not add_description:
        return existing

    desc = parents.get(subject) if subject is not None else rdf.find(f"{_RDF}Description")
    if desc is None:
        desc = ET.Element(_RDF + "Description", {_RDF + "about": ""})
        _append(rdf, desc, depth(rdf), unit)
        parents[desc] = rdf
    level = depth(desc)
    if new:
        if bag is None:
            if subject is None:
                subject = ET.Element(_DC + "subject")
                _append(desc, subject, level, unit)
            bag = ET.Element(_RDF + "Bag")
            _append(subject, bag, level + 1, unit)
        bag_level = depth(bag) if bag in parents else level + 2
        for k in new:
            li = ET.Element(_RDF + "li")
            li.text = k
            _append(bag, li, bag_level, unit)
    if add_description:
        element = ET.Element(_DC + "description")
        alt = ET.SubElement(element, _RDF + "Alt")
        ET.SubElement(alt, _RDF + "li", {"{" + NS["xml"] + "}lang": "x-default"}).text = description
        ET.indent(element, space=unit, level=level + 1)
        _append(desc, element, level, unit)
    out = ET.tostring(root, encoding="unicode")
    if "\r\n" in body:  # the parser turned the file's CRLFs into LFs
        out = out.replace("\n", "\r\n")
    return before + out + after


def _is_read_only(path: Path, st: os.stat_result) -> bool:
    # The mode bits are checked as well as access(): as root (or with CAP_DAC_OVERRIDE) access()
    # says yes to a 0444 file, and os.replace() never asks the file (only its folder), so
    # without this check a read-only sidecar would be silently replaced.
    return st.st_mode & 0o222 == 0 or not os.access(path, os.W_OK)


def _atomic_write(target: Path, data: bytes, st: os.stat_result | None) -> None:
    """Write `data` to a temporary file next to `target` and rename it over `target`, with the
    old file's mode (and owner, where allowed); a new file gets 0666 less the umask."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")  # hidden: not watched
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666 if st is None else 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if st is not None:
            if hasattr(os, "chown"):
                with contextlib.suppress(OSError):  # only root may give a file away
                    os.chown(tmp, st.st_uid, st.st_gid)
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_sidecar(
    photo: str | os.PathLike,
    tags: Iterable[str],
    description: str | None = None,
    style: str = "append",
) -> Path:
    """Write or update the photo's sidecar with `tags` as keywords; returns its path.

    An existing sidecar under either naming is updated (see `find_sidecar`), in its own encoding
    and mode; through a symlink, the link's target is updated. `style` names a new one. A file
    that already has every keyword is not rewritten. The file is written to a temporary name
    and renamed, so a crash never leaves half a file.

    Raises SidecarReadOnly (a PermissionError) for a read-only sidecar that needs new keywords,
    left untouched; ValueError for a sidecar that is not XMP; OSError when reading or writing
    fails.
    """
    path = find_sidecar(photo, style)
    real = Path(os.path.realpath(path)) if path.is_symlink() else path
    keywords = keywords_from_tags(tags)
    try:
        data = real.read_bytes()
    except FileNotFoundError:  # a new sidecar (through a dangling link: the link's target)
        _atomic_write(real, encode_sidecar(xmp_packet(keywords, description)), None)
        return path
    st = os.stat(real)
    text, codec, bom = decode_sidecar(data)
    merged = merge_keywords(text, keywords, description)
    if merged is text:
        return path
    if _is_read_only(real, st):
        raise SidecarReadOnly(f"{path} is read-only: left unchanged")
    _atomic_write(real, encode_sidecar(merged, codec, bom), st)
    return path


def write_sidecars(rows: Iterable, with_caption: bool = False,
                   style: str = "append") -> tuple[list[Path], list[tuple[str, str]]]:
    """A sidecar for each row (ExportRow: path, caption, tags) that has tags -> (sidecars
    written, (photo, why) for each one that could not be: read-only, not an XMP file, ...).
    One photo's problem never stops the others."""
    written: list[Path] = []
    problems: list[tuple[str, str]] = []
    for r in rows:
        if not r.tags:
            continue
        try:
            written.append(write_sidecar(r.path, r.tags, r.caption if with_caption else None, style))
        except (OSError, ValueError) as exc:
            problems.append((str(r.path), str(exc)))
    return written, problems
