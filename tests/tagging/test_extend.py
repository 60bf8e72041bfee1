"""Popular variants and trending tags for one photo, from plain history data (no library)."""

from __future__ import annotations

from desktop_app.library.store import TagHistory, TagLibrary, history_for
from desktop_app.results import HashtagSuggestion
from desktop_app.tagging.extend import extend_for_photo
from desktop_app.tagging.variants import MUTE_REJECTIONS


def cand(tag: str, score: float = 0.8) -> HashtagSuggestion:
    return HashtagSuggestion(tag=tag, score=score, source="caption", words=(tag[1:],))


class Photo:  # what extend_for_photo reads of a PhotoResult
    caption = None
    content_hash = "h1"


def test_without_history_every_known_form_is_offered():
    tags = [c.tag for c in extend_for_photo([cand("#cat")], Photo(), None, None)]
    assert tags[0] == "#cat" and "#catlover" in tags


def test_a_form_the_user_keeps_rejecting_is_not_offered_on_the_next_photo(tmp_path):
    with TagLibrary.open(tmp_path / "lib", habit_features=None) as lib:
        before = [c.tag for c in extend_for_photo([cand("#cat")], Photo(), history_for(lib, "h9"))]
        assert "#catlover" in before
        for i, tag in enumerate(["#doglover", "#booklover", "#beachlover"][:MUTE_REJECTIONS]):
            lib.record_decisions(f"p{i}", reject=[tag])
        # no waiting for a cache to expire: the very next photo sees the decisions
        after = [c.tag for c in extend_for_photo([cand("#cat")], Photo(), history_for(lib, "h9"))]
    assert "#catlover" not in after and "#catsofinstagram" in after


def test_history_is_plain_data_with_the_photos_kept_tags(tmp_path):
    with TagLibrary.open(tmp_path / "lib", habit_features=None) as lib:
        lib.record_decisions("h1", approve=["#dog"], reject=["#man"], add=["#mine"])
        history = lib.tag_history("h1")
        assert isinstance(history, TagHistory)
        assert sorted(history.kept_here) == ["#dog", "#mine"]
        assert {p.tag for p in history.preferences} == {"#dog", "#man", "#mine"}
        assert lib.tag_history("h1").preferences is history.preferences  # unchanged: not re-read
        lib.record_decisions("h2", approve=["#cat"])
        assert "#cat" in {p.tag for p in lib.tag_history().preferences}
    assert history_for(None, "h1") is None
