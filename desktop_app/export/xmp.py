"""XMP sidecars with the hashtags as keywords (`dc:subject`), for photo managers.

digiKam, Lightroom and darktable read keywords from `dc:subject` (an rdf:Bag of rdf:li).
Keywords are written without the '#'. A sidecar that already exists (darktable keeps its edit
history in one) is updated in place: only `dc:subject` gains the new keywords, everything else
is kept.

Sidecar name: `photo.jpg.xmp` (darktable's and digiKam's default) unless `style="replace"`
asks for `photo.xmp` (Lightroom's convention for raw files).
"""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET
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


def keywords_from_tags(tags: Iterable[str]) -> list[str]:
    """'#teddybear' -> 'teddybear' (no limit: a photo manager takes any number of keywords)."""
    return [t[1:] for t in clean_tags(tags, limit=10_000)]


def sidecar_path(photo: str | os.PathLike, style: str = "append") -> Path:
    p = Path(photo)
    return p.with_suffix(".xmp") if style == "replace" else p.with_name(p.name + ".xmp")


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


def _register_namespaces(text: str) -> None:
    """Keep the file's own prefixes (darktable:, xmpMM:, ...) when writing it back."""
    for _event, (prefix, uri) in ET.iterparse(io.StringIO(text), events=("start-ns",)):
        if prefix and prefix != "xml":
            try:
                ET.register_namespace(prefix, uri)
            except ValueError:  # reserved prefixes such as ns0
                pass


def merge_keywords(existing: str, keywords: Iterable[str], description: str | None = None) -> str:
    """Add `keywords` to an existing sidecar's dc:subject (kept ones first, no duplicates).

    Raises ValueError when `existing` is not XMP (not XML, or no rdf:RDF).
    """
    try:
        _register_namespaces(existing)
        root = ET.fromstring(existing)
    except ET.ParseError as exc:
        raise ValueError(f"not an XMP file ({exc})") from None
    rdf = root if root.tag == _RDF + "RDF" else root.find(f"{_RDF}RDF")
    if rdf is None:
        raise ValueError("not an XMP file (no rdf:RDF)")
    subject = rdf.find(f".//{_DC}subject")
    if subject is None:
        desc = rdf.find(f"{_RDF}Description")
        if desc is None:
            desc = ET.SubElement(rdf, _RDF + "Description", {_RDF + "about": ""})
        subject = ET.SubElement(desc, _DC + "subject")
    bag = subject.find(f"{_RDF}Bag")
    if bag is None:
        bag = ET.SubElement(subject, _RDF + "Bag")
    have = {(li.text or "").casefold() for li in bag.findall(f"{_RDF}li")}
    for k in keywords:
        if k.casefold() not in have:
            ET.SubElement(bag, _RDF + "li").text = k
            have.add(k.casefold())
    if description and rdf.find(f".//{_DC}description") is None:
        parent = next((d for d in rdf.iter() if subject in list(d)), None)
        if parent is not None:
            alt = ET.SubElement(ET.SubElement(parent, _DC + "description"), _RDF + "Alt")
            li = ET.SubElement(alt, _RDF + "li", {"{" + NS["xml"] + "}lang": "x-default"})
            li.text = description
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="unicode") + "\n"


def write_sidecar(
    photo: str | os.PathLike,
    tags: Iterable[str],
    description: str | None = None,
    style: str = "append",
) -> Path:
    """Write or update the photo's sidecar with `tags` as keywords; returns its path.

    The file is written to a temporary name and renamed, so a crash never leaves half a file.
    """
    target = sidecar_path(photo, style)
    keywords = keywords_from_tags(tags)
    if target.exists():
        text = merge_keywords(target.read_text(encoding="utf-8"), keywords, description)
    else:
        text = xmp_packet(keywords, description)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target
