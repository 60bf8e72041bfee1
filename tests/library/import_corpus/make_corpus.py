"""Writes the malformed-import corpus next to this script: `python make_corpus.py`.

Each *.json file is a library export that is wrong in one way (a few are not JSON at all);
expected.txt says, per file, what the error message must contain (the first bad record).
tests/library/test_import_check.py imports every file into a library and checks that each one
is refused with that message, without a traceback, and that nothing changed.
`good_document()` is the valid export the mutations start from (the tests import it too).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
T0 = 1_700_000_000.0


def photo_hash(i: int) -> str:
    return hashlib.sha256(f"photo {i}".encode()).hexdigest()


def embedding_data(values, dtype: str = "<f2") -> str:
    return base64.b64encode(np.asarray(values, dtype=dtype).tobytes()).decode("ascii")


def photo(i: int, with_embedding: bool = True) -> dict:
    return {
        "content_hash": photo_hash(i),
        "path": f"/photos/IMG_{i:04d}.jpg",
        "file_size": 2_000_000 + i,
        "mtime": T0 - 86400 + i,
        "width": 4032,
        "height": 3024,
        "added_at": T0 + i,
        "updated_at": T0 + i,
        "paths": [[f"/photos/IMG_{i:04d}.jpg", T0 + i, T0 + i]],
        "captions": [{"model_version": "test-model", "caption": "a dog on a beach",
                      "tokens": ["a", "dog", "on", "a", "beach"], "log_prob": -3.5,
                      "created_at": T0 + i}],
        "suggestions": [
            {"model_version": "test-model", "tag": "#dog", "score": 0.9, "source": "caption",
             "position": 0, "created_at": T0 + i},
            {"model_version": "test-model", "tag": "#beach", "score": 0.7, "source": "caption",
             "position": 1, "created_at": T0 + i},
        ],
        "decisions": [["#dog", "approved", T0 + 100 + i], ["#beach", "rejected", T0 + 101 + i],
                      ["#sunset_glow", "added", T0 + 102 + i]],
        "embedding": {"dtype": "f2", "dim": 8, "model": "test-model",
                      "data": embedding_data(np.linspace(0.0, 1.0, 8) + i % 3)}
        if with_embedding else None,
    }


def good_document(n_photos: int = 2) -> dict:
    return {
        "format": "hashlens-library",
        "format_version": 1,
        "schema_version": 3,
        "exported_at": T0 + 10_000,
        "weights": {"model": 1.0, "approval": 1.2, "neighbours": 5.0},
        "weights_n": 3,
        "rules": [
            {"kind": "always", "tag": "#nofilter", "target": None, "created_at": T0},
            {"kind": "block", "tag": "#man", "target": None, "created_at": T0},
            {"kind": "synonym", "tag": "#puppy", "target": "#dog", "created_at": T0},
        ],
        "photos": [photo(i, with_embedding=i % 2 == 0) for i in range(n_photos)],
    }


def mutated(change) -> bytes:
    doc = good_document()
    change(doc)
    return json.dumps(doc).encode()


def _set(path: str, value):
    """A mutation setting doc[...][...] = value; path like 'photos.0.decisions.1.0'."""
    keys = [int(k) if k.lstrip("-").isdigit() else k for k in path.split(".")]

    def change(doc):
        obj = doc
        for k in keys[:-1]:
            obj = obj[k]
        obj[keys[-1]] = value

    return change


def _delete(path: str):
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]

    def change(doc):
        obj = doc
        for k in keys[:-1]:
            obj = obj[k]
        del obj[keys[-1]]

    return change


def _raw_replace(old: str, new: str) -> bytes:
    text = json.dumps(good_document())
    assert old in text, old
    return text.replace(old, new, 1).encode()


def _after_250_good() -> bytes:
    doc = good_document(n_photos=0)
    doc["photos"] = [
        {"content_hash": photo_hash(i), "path": f"/photos/IMG_{i:04d}.jpg",
         "decisions": [["#dog", "approved", T0 + i], ["#beach", "rejected", T0 + i]]}
        for i in range(251)
    ]
    doc["photos"][250]["decisions"] += [["#sea", "added", T0], ["<script>", "added", T0]]
    return json.dumps(doc).encode()


def _cycle(doc):
    doc["rules"] += [
        {"kind": "synonym", "tag": "#cat", "target": "#kitty", "created_at": T0},
        {"kind": "synonym", "tag": "#kitty", "target": "#cat", "created_at": T0},
    ]


def _long_cycle(doc):
    doc["rules"] += [
        {"kind": "synonym", "tag": "#a", "target": "#b", "created_at": T0},
        {"kind": "synonym", "tag": "#b", "target": "#c", "created_at": T0},
        {"kind": "synonym", "tag": "#c", "target": "#a", "created_at": T0},
    ]


def _duplicate_photo(doc):
    doc["photos"].append(copy.deepcopy(doc["photos"][0]))


GOOD = json.dumps(good_document()).encode()

# name -> (file bytes, what the error message must contain)
CASES: dict[str, tuple[bytes, str]] = {
    # not JSON, or not an export at all
    "empty_file.json": (b"", "the file is empty"),
    "not_json.json": (b"hello, this is not a backup\n", "not valid JSON"),
    "truncated.json": (GOOD[: len(GOOD) // 2], "ends too early"),
    "not_utf8.json": ('{"format": "hashlens-library", "caption": "caf\xe9"}'.encode("latin-1"),
                      "not UTF-8"),
    "deeply_nested.json": (b'{"format": "hashlens-library", "format_version": 1, "rules": '
                           + b"[" * 5_000 + b"]" * 5_000 + b"}", "nested too deeply"),
    "int_5000_digits.json": (_raw_replace('"width": 4032', '"width": ' + "9" * 5000),
                             "not valid JSON"),
    "top_level_list.json": (b"[1, 2, 3]\n", "is a JSON object"),
    "wrong_format.json": (mutated(_set("format", "lightroom-catalog")), "format: is 'lightroom"),
    "missing_format.json": (mutated(_delete("format")), "format: is missing"),
    "newer_format_version.json": (mutated(_set("format_version", 2)), "newer hashlens"),
    "format_version_text.json": (mutated(_set("format_version", "1")),
                                 "format_version: expected a whole number"),
    "format_version_zero.json": (mutated(_set("format_version", 0)),
                                 "format_version: 0 is not a known format version"),
    # photos: structure and types
    "photos_not_a_list.json": (mutated(_set("photos", {"a": 1})), "photos: expected a list"),
    "photo_not_an_object.json": (mutated(_set("photos.1", "IMG_0001.jpg")),
                                 "photos[1]: expected an object"),
    "missing_content_hash.json": (mutated(_delete("photos.1.content_hash")),
                                  "photos[1].content_hash: is missing"),
    "content_hash_number.json": (mutated(_set("photos.0.content_hash", 12345)),
                                 "photos[0].content_hash: 12345 is not a content hash"),
    "content_hash_not_hex.json": (mutated(_set("photos.1.content_hash", "dead beef!")),
                                  "photos[1].content_hash: 'dead beef!' is not a content hash"),
    "content_hash_path.json": (mutated(_set("photos.0.content_hash", "../../etc/passwd")),
                               "photos[0].content_hash"),
    "content_hash_empty.json": (mutated(_set("photos.0.content_hash", "")),
                                "photos[0].content_hash"),
    "content_hash_too_long.json": (mutated(_set("photos.1.content_hash", "ab" * 200)),
                                   "photos[1].content_hash"),
    "duplicate_photo.json": (mutated(_duplicate_photo),
                             "photos[2].content_hash: '" + photo_hash(0)[:20]),
    "width_negative.json": (mutated(_set("photos.1.width", -5)),
                            "photos[1].width: -5 is out of range"),
    "width_bool.json": (mutated(_set("photos.0.width", True)),
                        "photos[0].width: expected a whole number, got true"),
    "file_size_huge_int.json": (mutated(_set("photos.0.file_size", 10**30)),
                                "photos[0].file_size: a 31-digit number is out of range"),
    "file_size_float_overflow.json": (_raw_replace('"file_size": 2000001', '"file_size": 1e999'),
                                      "photos[1].file_size: expected a whole number"),
    "mtime_nan.json": (_raw_replace('"mtime": 1699913600.0', '"mtime": NaN'),
                       "photos[0].mtime: nan is not a finite number"),
    "added_at_infinity.json": (_raw_replace('"added_at": 1700000001.0', '"added_at": Infinity'),
                               "photos[1].added_at: inf is not a finite number"),
    "path_with_nul.json": (mutated(_set("photos.0.path", "/photos/a\x00b.jpg")),
                           "photos[0].path: '/photos/a\\x00b.jpg' holds a NUL"),
    "path_lone_surrogate.json": (_raw_replace('"path": "/photos/IMG_0001.jpg"',
                                              '"path": "/photos/\\ud800.jpg"'),
                                 "photos[1].path: '/photos/\\ud800.jpg' is not valid Unicode"),
    "paths_row_short.json": (mutated(_set("photos.0.paths", [["/photos/x.jpg"]])),
                             "photos[0].paths[0]: is a list of 1"),
    "caption_missing_text.json": (mutated(_delete("photos.1.captions.0.caption")),
                                  "photos[1].captions[0].caption: is missing"),
    "caption_escape_sequence.json": (mutated(_set("photos.0.captions.0.caption",
                                                  "a dog\x1b[31m on a beach")),
                                     "photos[0].captions[0].caption: 'a dog\\x1b[31m"),
    "tokens_not_a_list.json": (mutated(_set("photos.0.captions.0.tokens", "a dog")),
                               "photos[0].captions[0].tokens: expected a list"),
    "suggestion_position_float.json": (mutated(_set("photos.1.suggestions.1.position", 1.5)),
                                       "photos[1].suggestions[1].position: expected a whole"),
    "suggestion_score_text.json": (mutated(_set("photos.0.suggestions.0.score", "high")),
                                   "photos[0].suggestions[0].score: expected a number"),
    "suggestion_source_html.json": (mutated(_set("photos.0.suggestions.1.source", "<b>x</b>")),
                                    "photos[0].suggestions[1].source: '<b>x</b>' is not a"),
    # tags
    "decision_tag_script.json": (mutated(_set("photos.1.decisions.2.0",
                                              "<script>alert(1)</script>")),
                                 "photos[1].decisions[2].tag: '<script>alert(1)</script>' is "
                                 "not a valid hashtag"),
    "decision_tag_newline.json": (mutated(_set("photos.0.decisions.0.0", "#evil\nPWNED")),
                                  "photos[0].decisions[0].tag: '#evil\\nPWNED' is not a valid"),
    "decision_tag_number.json": (mutated(_set("photos.0.decisions.1.0", 42)),
                                 "photos[0].decisions[1].tag: expected a hashtag"),
    "suggestion_tag_uppercase.json": (mutated(_set("photos.1.suggestions.0.tag", "#Dog")),
                                      "photos[1].suggestions[0].tag: '#Dog' is not a valid"),
    "suggestion_tag_spaces.json": (mutated(_set("photos.0.suggestions.1.tag", "#sunny day")),
                                   "photos[0].suggestions[1].tag: '#sunny day' is not a valid"),
    "tag_without_hash.json": (mutated(_set("photos.0.decisions.0.0", "dog")),
                              "photos[0].decisions[0].tag: 'dog' is not a valid"),
    "tag_digits_only.json": (mutated(_set("photos.0.decisions.0.0", "#2024")),
                             "photos[0].decisions[0].tag: '#2024' is not a valid"),
    "tag_bidi_override.json": (mutated(_set("photos.1.decisions.0.0", "#dog\u202egnp")),
                               "photos[1].decisions[0].tag"),
    "decision_state_unknown.json": (mutated(_set("photos.1.decisions.0.1", "liked")),
                                    "photos[1].decisions[0].state: 'liked' is not a decision"),
    "decision_two_items.json": (mutated(_set("photos.0.decisions.2", ["#dog", "approved"])),
                                "photos[0].decisions[2]: is a list of 2"),
    "decision_far_future.json": (mutated(_set("photos.1.decisions.1.2", 1e12)),
                                 "photos[1].decisions[1].at: 1000000000000.0 is out of range"),
    "bad_after_250_good.json": (_after_250_good(),
                                "photos[250].decisions[3].tag: '<script>' is not a valid hashtag"),
    # embeddings
    "embedding_bad_base64.json": (mutated(_set("photos.0.embedding.data", "!!not base64!!")),
                                  "photos[0].embedding.data: is not valid base64"),
    "embedding_dim_mismatch.json": (mutated(_set("photos.0.embedding.dim", 1024)),
                                    "photos[0].embedding.dim: is 1024 but the data holds 8"),
    "embedding_odd_bytes.json": (mutated(_set("photos.0.embedding.data",
                                              base64.b64encode(b"abc").decode())),
                                 "photos[0].embedding.data: holds 3 bytes"),
    "embedding_bad_dtype.json": (mutated(_set("photos.0.embedding.dtype", "O")),
                                 "photos[0].embedding.dtype: 'O' is not"),
    "embedding_nan_values.json": (mutated(_set("photos.0.embedding.data",
                                               embedding_data([0.1, np.nan, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]))),
                                  "photos[0].embedding.data: has NaN"),
    "embedding_not_object.json": (mutated(_set("photos.0.embedding", [0.1, 0.2])),
                                  "photos[0].embedding: expected an object"),
    # rules and weights
    "rule_unknown_kind.json": (mutated(_set("rules.1.kind", "forbid")),
                               "rules[1].kind: 'forbid' is not a rule kind"),
    "always_rule_script.json": (mutated(_set("rules.0.tag", "<script>alert(1)</script>")),
                                "rules[0].tag: '<script>alert(1)</script>' is not a valid"),
    "always_rule_newline.json": (mutated(_set("rules.0.tag", "#evil\nPWNED")),
                                 "rules[0].tag: '#evil\\nPWNED' is not a valid hashtag"),
    "synonym_cycle.json": (mutated(_cycle), "rules[4]: synonym #kitty -> #cat makes a loop"),
    "synonym_long_cycle.json": (mutated(_long_cycle),
                                "rules[5]: synonym #c -> #a makes a loop (#a -> #b -> #c -> #a)"),
    "synonym_to_itself.json": (mutated(_set("rules.2.target", "#puppy")),
                               "rules[2].target: #puppy cannot be a synonym of itself"),
    "synonym_without_target.json": (mutated(_delete("rules.2.target")),
                                    "rules[2].target: is missing"),
    "synonym_odd_target.json": (mutated(_set("rules.2.target", "#dog<img src=x>")),
                                "rules[2].target: '#dog<img src=x>' is not a valid"),
    "block_with_target.json": (mutated(_set("rules.1.target", "#woman")),
                               "rules[1].target: a 'block' rule has no target"),
    "block_and_always.json": (mutated(_set("rules.1.tag", "#nofilter")),
                              "rules[1]: #nofilter is both blocked and always added"),
    "rule_twice.json": (mutated(lambda d: d["rules"].append(dict(d["rules"][0]))),
                        "rules[3]: a second 'always' rule for #nofilter (rules[0])"),
    "rules_not_a_list.json": (mutated(_set("rules", "none")), "rules: expected a list"),
    "weights_not_object.json": (mutated(_set("weights", [1, 2])),
                                "weights: expected an object"),
    "weights_nan.json": (_raw_replace('"approval": 1.2', '"approval": NaN'),
                         "weights['approval']: nan is not a finite number"),
    "weights_n_negative.json": (mutated(_set("weights_n", -1)), "weights_n: -1 is out of range"),
}


def write(folder: Path = HERE) -> None:
    for old in folder.glob("*.json"):
        old.unlink()
    lines = []
    for name, (data, expected) in CASES.items():
        (folder / name).write_bytes(data)
        assert "\t" not in expected and "\n" not in expected
        lines.append(f"{name}\t{expected}")
    (folder / "expected.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
    print(f"{len(CASES)} files in {HERE}")
