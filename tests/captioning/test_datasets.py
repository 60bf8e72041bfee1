import json

import pytest

from desktop_app.captioning.datasets import load_dataset
from desktop_app.captioning.vocabulary import Vocabulary, tokenize
from desktop_app.errors import HashlensError


def test_flickr_layout(tmp_path):
    (tmp_path / "splits").mkdir()
    (tmp_path / "captions.tsv").write_text("a.jpg#0\tA dog runs .\na.jpg#1\tA dog plays .\nb.jpg\tA cat .\n")
    (tmp_path / "splits" / "train.txt").write_text("a.jpg\n")
    (tmp_path / "splits" / "test.txt").write_text("b.jpg\nmissing.jpg\n")
    ds = load_dataset(tmp_path)
    assert ds.captions["a.jpg"] == ["A dog runs .", "A dog plays ."]
    assert ds.split("train") == ["a.jpg"] and ds.split("test") == ["b.jpg"]
    assert ds.images["b.jpg"] == tmp_path / "images" / "b.jpg"
    with pytest.raises(HashlensError, match="no 'dev' split"):
        ds.split("dev")


def test_coco_karpathy_json(tmp_path):
    doc = {"images": [
        {"filepath": "train2014", "filename": "x.jpg", "split": "train", "sentences": [{"raw": "A man.", "tokens": ["a", "man"]}]},
        {"filepath": "val2014", "filename": "y.jpg", "split": "restval", "sentences": [{"tokens": ["a", "cat"]}]},
        {"filepath": "val2014", "filename": "z.jpg", "split": "val", "sentences": [{"raw": "A bus."}]},
        {"filepath": "val2014", "filename": "w.jpg", "split": "test", "sentences": [{"raw": "A tree."}]},
    ]}
    f = tmp_path / "dataset_coco.json"
    f.write_text(json.dumps(doc))
    ds = load_dataset(f, images_dir=tmp_path / "coco")
    assert ds.split("train") == ["train2014/x.jpg", "val2014/y.jpg"]
    assert ds.split("dev") == ["val2014/z.jpg"] and ds.split("test") == ["val2014/w.jpg"]
    assert ds.captions["val2014/y.jpg"] == ["a cat"]
    assert ds.images["train2014/x.jpg"] == tmp_path / "coco" / "train2014" / "x.jpg"
    assert load_dataset(tmp_path).split("test") == ["val2014/w.jpg"]  # the folder works too


def test_not_a_dataset(tmp_path):
    with pytest.raises(HashlensError, match="not a caption dataset"):
        load_dataset(tmp_path)


def test_vocabulary_keeps_frequent_words_and_round_trips(tmp_path):
    vocab = Vocabulary.build(["A dog, a DOG!", "a cat"], min_count=2)
    assert vocab.itos[4:] == ["a", "dog"]
    ids = vocab.encode("a cat dog", max_len=20)
    assert ids[0] == vocab.start_id and ids[-1] == vocab.end_id and vocab.unk_id in ids
    assert vocab.decode(ids[1:]) == ["a", "dog"]  # <unk> is never shown
    vocab.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json").itos == vocab.itos
    assert tokenize("Two dogs' toys, 3 of them.") == ["two", "dogs", "toys", "of", "them"]
