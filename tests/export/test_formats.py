"""Export formatting: pure functions."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest

from desktop_app.export.csv_txt import ExportRow, to_csv, to_txt
from desktop_app.export.instagram import caption_sentence, clean_tags, instagram_text, kept_tags
from desktop_app.export.xmp import NS, merge_keywords, sidecar_path, write_sidecar, xmp_packet


def test_instagram_text_tags_only_and_with_caption():
    assert instagram_text(["#a", "b", "#A", "", "#c"]) == "#a #b #c"
    assert instagram_text(["#a"], "a dog on a beach", with_caption=True) == "A dog on a beach.\n\n#a"
    assert instagram_text(["#a"], "a dog on a beach", with_caption=False) == "#a"
    assert instagram_text([], "a dog", with_caption=True) == "A dog."
    assert instagram_text([], None, with_caption=True) == ""


def test_at_most_30_hashtags():
    tags = [f"#t{i}" for i in range(40)]
    assert len(clean_tags(tags)) == 30
    assert instagram_text(tags).split() == tags[:30]


def test_kept_tags_follow_the_chosen_order():
    decisions = {"#a": "approved", "#b": "rejected", "#c": "added", "#d": "removed", "#e": "approved"}
    assert kept_tags(decisions) == ["#a", "#c", "#e"]
    assert kept_tags(decisions, ["#e", "#b", "#a"]) == ["#e", "#a", "#c"]


def test_caption_sentence():
    assert caption_sentence("  a   man riding a wave ") == "A man riding a wave."
    assert caption_sentence("Wow!") == "Wow!"


def test_txt_and_csv():
    rows = [ExportRow("/p/one.jpg", "a cat", ["#cat", "#cute"]), ExportRow("/p/two, x.jpg", None, [])]
    assert to_txt(rows[:1]) == "#cat #cute\n"
    assert to_txt(rows, with_caption=True) == "one.jpg\nA cat.\n\n#cat #cute\n\ntwo, x.jpg\n\n"
    parsed = list(csv.reader(io.StringIO(to_csv(rows))))
    assert parsed == [["path", "caption", "hashtags", "count"],
                      ["/p/one.jpg", "a cat", "#cat #cute", "2"],
                      ["/p/two, x.jpg", "", "", "0"]]



def test_xmp_packet_has_dc_subject_bag():
    text = xmp_packet(["teddy & bear", "bench"], description="a <bear>")
    body = text.split("?>", 1)[1].rsplit("<?xpacket", 1)[0]
    root = ET.fromstring(body)
    bag = root.find(f".//{{{NS['dc']}}}subject/{{{NS['rdf']}}}Bag")
    assert [li.text for li in bag] == ["teddy & bear", "bench"]
    desc = root.find(f".//{{{NS['dc']}}}description/{{{NS['rdf']}}}Alt/{{{NS['rdf']}}}li")
    assert desc.text == "a <bear>"


DARKTABLE = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:darktable="http://darktable.sf.net/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
   darktable:xmp_version="5">
   <darktable:history>
    <rdf:Seq><rdf:li darktable:operation="exposure"/></rdf:Seq>
   </darktable:history>
   <dc:subject>
    <rdf:Bag><rdf:li>holiday</rdf:li><rdf:li>Cat</rdf:li></rdf:Bag>
   </dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def test_merge_keeps_other_data_and_existing_keywords():
    out = merge_keywords(DARKTABLE, ["cat", "teddybear"])
    assert "darktable:history" in out and 'darktable:operation="exposure"' in out
    root = ET.fromstring(out)
    bag = root.find(f".//{{{NS['dc']}}}subject/{{{NS['rdf']}}}Bag")
    assert [li.text for li in bag] == ["holiday", "Cat", "teddybear"]


def test_merge_adds_a_subject_when_missing_and_refuses_non_xmp():
    plain = DARKTABLE.replace(DARKTABLE[DARKTABLE.index("   <dc:subject>"):DARKTABLE.index("  </rdf:Description>")], "")
    out = merge_keywords(plain, ["x"], description="a cat")
    root = ET.fromstring(out)
    assert [li.text for li in root.find(f".//{{{NS['dc']}}}subject/{{{NS['rdf']}}}Bag")] == ["x"]
    assert root.find(f".//{{{NS['dc']}}}description") is not None
    with pytest.raises(ValueError):
        merge_keywords("not xml at all", ["x"])
    with pytest.raises(ValueError):
        merge_keywords("<a/>", ["x"])


def test_write_sidecar_new_then_update(tmp_path):
    photo = tmp_path / "IMG_1.JPG"
    photo.write_bytes(b"x")
    assert sidecar_path(photo) == tmp_path / "IMG_1.JPG.xmp"
    assert sidecar_path(photo, "replace") == tmp_path / "IMG_1.xmp"
    p = write_sidecar(photo, ["#teddybear", "#bench"])
    assert "<rdf:li>teddybear</rdf:li>" in p.read_text(encoding="utf-8")
    write_sidecar(photo, ["#sunset", "#bench"])
    root = ET.fromstring(p.read_text(encoding="utf-8"))
    assert [li.text for li in root.iter(f"{{{NS['rdf']}}}li")] == ["teddybear", "bench", "sunset"]
    assert not list(tmp_path.glob("*.tmp"))


def test_instagram_posts_one_block_per_photo_no_blank_line_walls():
    from desktop_app.export.csv_txt import ExportRow
    from desktop_app.export.instagram import instagram_posts

    rows = [ExportRow("/a/IMG_1.jpg", "a dog on a beach", ["#dog", "#beach"]),
            ExportRow("/a/IMG_2.jpg", None, []),  # nothing approved: left out
            ExportRow("/b/IMG_3.jpg", None, ["#sunset"])]
    assert instagram_posts(rows) == ("IMG_1.jpg\nA dog on a beach.\n#dog #beach\n\n"
                                     "IMG_3.jpg\n#sunset\n")
    assert instagram_posts(rows, with_caption=False).startswith("IMG_1.jpg\n#dog #beach\n\n")
    assert instagram_posts(rows[:1]) == "A dog on a beach.\n\n#dog #beach\n"  # one: ready to paste
    assert instagram_posts(rows[1:2]) == ""
