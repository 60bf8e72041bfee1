"""The export's mix of broad, medium and niche tags within Instagram's 30."""

from __future__ import annotations

import pytest

from desktop_app.cli import main
from desktop_app.export.mix import mix_tags, quotas, tier_of
from desktop_app.tagging import popularity as pop


def tags_with(n_broad, n_medium, n_niche):
    """Tags in the user's order, broad ones first, and their popularity."""
    tags = ([f"#b{i}" for i in range(n_broad)] + [f"#m{i}" for i in range(n_medium)]
            + [f"#n{i}" for i in range(n_niche)])
    figure = {t: {"b": 0.8, "m": 0.5, "n": 0.1}[t[1]] for t in tags}
    return tags, figure


def test_thirty_or_fewer_are_kept_as_they_are():
    tags, figure = tags_with(20, 5, 5)
    m = mix_tags(tags, figure)
    assert m.tags == tags and m.dropped == []


def test_too_many_broad_tags_make_room_for_niche_ones():
    tags, figure = tags_with(30, 15, 10)
    m = mix_tags(tags, figure)
    assert len(m.tags) == 30
    assert m.counts == {"broad": 9, "medium": 12, "niche": 9}
    assert m.tags == [t for t in tags if t in m.tags]  # the user's order
    assert m.tags[:9] == tags[:9]  # the first of each tier are the ones kept
    assert len(m.dropped) == 25 and m.summary() == "9 broad, 12 medium, 9 niche"


def test_a_tier_that_cannot_fill_its_share_leaves_room_for_the_others():
    tags, figure = tags_with(40, 0, 2)
    m = mix_tags(tags, figure)
    assert len(m.tags) == 30 and m.counts["niche"] == 2 and m.counts["broad"] == 28


def test_unknown_popularity_counts_as_niche():
    assert tier_of(None) == "niche"
    assert tier_of(pop.popularity("#dog")) == "broad"
    tags = [f"#t{i}" for i in range(40)]
    m = mix_tags(tags, lambda t: None)
    assert m.tags == tags[:30]


def test_quotas_add_up():
    for n in (0, 1, 7, 30):
        assert sum(quotas(n).values()) == n


@pytest.fixture
def many_tags(tmp_path):
    """A photo with 40 approved tags: 30 common words first, then 10 unknown to wordfreq."""
    from desktop_app.library.store import TagLibrary
    from desktop_app.pipeline import Pipeline
    from tests.ui.fakes import FakeCaptioner, make_photos

    photo = make_photos(tmp_path / "photos", 1)[0]
    lib = TagLibrary.open(tmp_path / "lib")
    pipe = Pipeline(captioner=FakeCaptioner(), library=lib)
    pipe.tag_photo(photo)
    common = ["dog", "cat", "food", "love", "car", "house", "water", "music", "book", "girl",
              "family", "friend", "money", "night", "city", "world", "school", "game", "home", "life",
              "people", "time", "day", "man", "woman", "child", "country", "party", "sun", "tree"]
    rare = [f"zq{chr(97 + i)}x" for i in range(10)]
    pipe.feedback(photo, add=[*common, *rare])
    lib.close()
    return tmp_path, photo, common, rare


def test_export_mixes_by_default_and_not_with_no_mix(many_tags, capsys):
    tmp, photo, common, rare = many_tags
    assert main(["export", str(photo), "--library", str(tmp / "lib")]) == 0
    out = capsys.readouterr()
    kept = out.out.split()
    assert len(kept) == 30
    assert len([t for t in kept if t[1:] in rare]) >= 9  # niche ones made it in
    assert "kept a mix of 30" in out.err
    assert main(["export", str(photo), "--no-mix", "--library", str(tmp / "lib")]) == 0
    out = capsys.readouterr()
    plain = out.out.split()
    assert len(plain) == 30 and "mix" not in out.err
    assert not [t for t in plain if t[1:] in rare]  # just the first 30
