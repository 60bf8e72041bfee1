"""Trending lists: import (junk reported), expiry, relating to a photo, the CLI, the pipeline."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from desktop_app.cli import main
from desktop_app.errors import HashlensError
from desktop_app.results import HashtagSuggestion
from desktop_app.tagging.extend import extend_candidates
from desktop_app.tagging.trends import TrendStore, parse_trending, relates, trending_suggestions

TODAY = dt.date(2024, 6, 10)


@pytest.fixture
def store(tmp_path):
    return TrendStore(tmp_path / "lib", today=lambda: TODAY)


def beach_photo():
    return [HashtagSuggestion("#dog", 0.9, "caption", words=("dog",)),
            HashtagSuggestion("#beach", 0.8, "caption", words=("beach",))]


def test_junk_lines_are_reported_and_the_valid_tags_kept():
    text = "\n".join([
        "#beachlife",
        "",
        "     ",
        "🔥🔥🔥",
        "#" + "a" * 200,
        "sunset lovers",
        "3. #ootd #OOTD",
        "#🌊",
        "#summer🔥vibes",
    ])
    parsed = parse_trending(text)
    assert [t for t, _ in parsed.tags] == ["#beachlife", "#sunsetlovers", "#ootd", "#summervibes"]
    assert parsed.duplicates == 1
    reasons = {r.line: r.reason for r in parsed.rejected}
    assert reasons[2] == reasons[3] == "empty line"
    assert "no letters" in reasons[4]
    assert "longer than 100" in reasons[5]
    assert "no letters" in reasons[8]
    assert set(reasons) == {2, 3, 4, 5, 8}


def test_csv_with_header_dates_and_counts():
    text = "hashtag,posts,date\n#beachlife,1.2M posts,2024-06-01\nsurf day,\"345,000\",2024-05-01\n"
    parsed = parse_trending(text)
    assert parsed.tags == [("#beachlife", dt.date(2024, 6, 1)), ("#surfday", dt.date(2024, 5, 1))]
    assert parsed.rejected == []


def test_a_date_line_dates_a_pasted_list(store):
    report = store.import_text("date: 2024-06-08\n#beachlife #sunset\n", days=7)
    assert report.list.date == "2024-06-08" and report.list.expires() == dt.date(2024, 6, 15)
    assert report.added == 2


def test_an_expired_list_suggests_nothing(store):
    store.import_text("#beachlife\n#dogsofsummer\n", days=7, date=TODAY - dt.timedelta(days=7))
    assert store.active() == {}
    out = extend_candidates(beach_photo(), ("a", "dog", "on", "the", "beach"),
                            active_trends=store.active())
    assert not [s for s in out if s.source == "trending"]
    assert store.clear(expired_only=True) == 1 and store.load() == []


def test_a_fresh_list_suggests_related_tags_only(store):
    store.import_text("#beachlife\n#dogsofsummer\n#vacationmode\n#catering\n", days=7,
                      date=TODAY - dt.timedelta(days=6))
    out = extend_candidates(beach_photo(), ("a", "dog", "on", "the", "beach"),
                            active_trends=store.active())
    trending = {s.tag: s for s in out if s.source == "trending"}
    assert set(trending) == {"#beachlife", "#dogsofsummer"}
    assert "trending" in trending["#beachlife"].reason and "#beach" in trending["#beachlife"].reason
    assert all(s.score < 0.8 for s in trending.values())  # the caption's own tags lead
    assert [s.tag for s in out[:2]] == ["#dog", "#beach"]


def test_a_tag_with_its_own_old_date_expires_alone(store):
    store.import_text("#beachlife,2024-01-01\n#beachday\n", days=30)
    assert set(store.active()) == {"#beachday"}


def test_an_approved_tag_relates_too():
    from desktop_app.tagging.trends import TrendList

    lst = TrendList("x", "t.txt", "", "2024-06-01", 7, ["#surfinglife"])
    found, _ = trending_suggestions({"#surfinglife": lst}, [], approved=["#surfing"])
    assert [s.tag for s in found] == ["#surfinglife"] and "#surfing" in found[0].reason


def test_relating_needs_a_whole_word():
    assert relates("beachlife", "beach") and relates("sunsetbeach", "beach")
    assert relates("dog", "dogsofinstagram")
    assert not relates("catering", "cat") and not relates("vacationmode", "cat")
    assert not relates("at", "at")


def test_a_candidate_that_is_trending_is_marked_not_repeated():
    from desktop_app.tagging.trends import TrendList

    lst = TrendList("x", "t.txt", "", "2024-06-01", 7, ["#beach"])
    out = extend_candidates(beach_photo(), active_trends={"#beach": lst})
    beach = [s for s in out if s.tag == "#beach"]
    assert len(beach) == 1 and beach[0].source == "caption"
    assert beach[0].parts["trending"] == 1.0 and "trending now" in beach[0].reason


def test_a_list_of_junk_only_is_not_stored(store):
    report = store.import_text("\n🔥\n   \n")
    assert report.list is None and len(report.rejected) == 3
    assert not store.path.exists()


def test_a_damaged_file_is_not_overwritten(store):
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{not json", encoding="utf-8")
    with pytest.raises(HashlensError, match="damaged"):
        store.import_text("#beachlife")
    assert store.path.read_text(encoding="utf-8") == "{not json"


def test_days_must_be_sensible(store):
    with pytest.raises(HashlensError, match="--days"):
        store.import_text("#beachlife", days=0)


def test_cli_import_list_clear(tmp_path, capsys):
    lib = str(tmp_path / "lib")
    f = tmp_path / "trending.txt"
    f.write_text("#beachlife\n\n🔥\n#sunsetlovers\n", encoding="utf-8")
    assert main(["trends", "import", str(f), "--days", "3", "--library", lib]) == 0
    err = capsys.readouterr().err
    assert "imported 2 trending tags" in err and "line 3" in err and "no letters" in err
    assert main(["trends", "list", "--json", "--library", lib]) == 0
    (lst,) = json.loads(capsys.readouterr().out)
    assert lst["tags"] == ["#beachlife", "#sunsetlovers"] and lst["days"] == 3
    assert lst["active"] == 2
    assert main(["trends", "import", str(f), "--date", "June 1", "--library", lib]) == 1
    assert "not a date" in capsys.readouterr().err
    assert main(["trends", "clear", "--library", lib]) == 0
    assert main(["trends", "list", "--library", lib]) == 0
    assert "no trending lists" in capsys.readouterr().out


def test_the_pipeline_suggests_trending_and_popular_tags(tmp_path):
    from desktop_app.library.store import TagLibrary
    from desktop_app.pipeline import Pipeline, TagOptions
    from tests.ui.fakes import FakeCaptioner, make_photos

    lib = TagLibrary.open(tmp_path / "lib")
    TrendStore(tmp_path / "lib").import_text("#beachlife\n#unrelatedthing\n")
    cap = FakeCaptioner(tokens=("a", "dog", "runs", "on", "the", "beach"))
    pipe = Pipeline(captioner=cap, library=lib, options=TagOptions(top_k=20))
    try:
        res = pipe.tag_photo(make_photos(tmp_path / "in", n=1)[0])
        by_tag = {h.tag: h for h in res.hashtags}
        assert by_tag["#beachlife"].source == "trending"
        assert "#unrelatedthing" not in by_tag
        assert by_tag["#dogsofinstagram"].source == "popular"
        assert [h.source for h in res.hashtags[:2]] == ["caption", "caption"]
        cands = pipe.candidates(res)
        assert all("popularity" in c.parts for c in cands)
    finally:
        pipe.close()
