"""A restored session shows each photo as it was: caption, where it came from, tags, boxes."""

from __future__ import annotations

import numpy as np

from desktop_app.results import Detection, PhotoResult
from desktop_app.scene.evidence import SceneEvidence
from desktop_app.scene.grounding import ground_caption
from desktop_app.session.codec import decode_result, encode_result
from desktop_app.tagging import suggest_hashtags

from ..tagging.conftest import make_caption


def test_a_grounded_photo_comes_back_as_it_was():
    giraffe = Detection("object", "giraffe", 0.8, (0.5, 0.1, 0.9, 0.9))
    cap = ground_caption(make_caption("a dog is running through the grass", probs={"dog": 0.5}),
                         SceneEvidence.build([giraffe]))
    tags = suggest_hashtags(cap, evidence=SceneEvidence.build([giraffe]), detector=False)
    res = PhotoResult(path="/photos/zoo.jpg", caption=cap, hashtags=tags, content_hash="abc",
                      size=(640, 480), detections=(giraffe,))
    back = decode_result(encode_result(res))
    assert back.caption.caption == "a giraffe is running through the grass"
    assert (back.caption.source, back.caption.original) == ("grounded", cap.original)
    assert back.caption.boxed_words == cap.boxed_words == (1,)
    assert back.detections == res.detections
    assert [(h.tag, h.box_indices) for h in back.hashtags] == [(h.tag, h.box_indices) for h in tags]
    assert np.allclose(back.caption.attention, cap.attention, atol=1e-3)
