"""Detected objects and faces in the hashtags, and one arbitration of all sources."""

from __future__ import annotations

from desktop_app.results import Detection
from desktop_app.scene.evidence import SceneEvidence
from desktop_app.tagging import suggest_hashtags

from .conftest import make_caption


def obj(label: str, score: float = 0.8, box=(0.1, 0.1, 0.6, 0.9)) -> Detection:
    return Detection("object", label, score, box)


def face(area_side: float, x: float = 0.2) -> Detection:
    return Detection("face", "face", 0.9, (x, 0.2, x + area_side, 0.2 + area_side))


def top(caption, evidence, k=5):
    return [h.tag for h in suggest_hashtags(caption, evidence=evidence, detector=False)][:k]


def test_the_detected_giraffe_leads_and_the_phantom_dog_is_gone():
    cap = make_caption("a dog is running through the grass", probs={"dog": 0.5})
    ev = SceneEvidence.build([obj("giraffe"), obj("giraffe", 0.7, (0.5, 0.2, 0.9, 0.9))])
    tags = top(cap, ev)
    assert "#giraffe" in tags[:2]
    assert "#dog" not in tags
    giraffe = next(h for h in suggest_hashtags(cap, evidence=ev, detector=False) if h.tag == "#giraffe")
    assert giraffe.source == "objects" and giraffe.box_indices == (0, 1)
    assert "2 giraffes" in giraffe.reason


def test_a_caption_tag_the_detector_confirms_points_at_its_box():
    cap = make_caption("a black dog is running on the beach")
    hs = suggest_hashtags(cap, evidence=SceneEvidence.build([obj("person"), obj("dog")]), detector=False)
    dog = next(h for h in hs if h.tag == "#dog")
    assert dog.box_indices == (1,) and "objects" in dog.parts
    plain = next(h for h in suggest_hashtags(cap, detector=False) if h.tag == "#dog")
    assert dog.score >= plain.score


def test_sensitive_classifier_labels_never_land_on_people():
    cap = make_caption("a little girl is sitting at a table", imagenet=[("gas mask or respirator", 0.7)])
    with_person = SceneEvidence.build([obj("person")], cap.imagenet)
    assert "#gasmask" not in top(cap, with_person, 30)
    hs = suggest_hashtags(make_caption("a thing", imagenet=[("gas mask or respirator", 0.7)]), detector=False)
    assert "#gasmask" in [h.tag for h in hs]  # on its own, and sure: a gas mask it is


def test_faces_give_the_tags_people_use_and_nothing_about_who():
    cap = make_caption("a man is smiling")
    assert "#selfie" in top(cap, SceneEvidence.build([face(0.5)]), 10)
    assert "#portrait" in top(cap, SceneEvidence.build([face(0.25)]), 10)
    group = SceneEvidence.build([face(0.1, x) for x in (0.0, 0.2, 0.4, 0.6)])
    tags = top(cap, group, 10)
    assert "#groupphoto" in tags and "#selfie" not in tags


def test_a_crowd_of_people_boxes_gives_people():
    cap = make_caption("a street")
    ev = SceneEvidence.build([obj("person", 0.9, (x, 0.1, x + 0.1, 0.9)) for x in (0.0, 0.3, 0.6)])
    assert "#people" in top(cap, ev, 10)


def test_the_classifier_naming_another_animal_than_the_detector_saw_is_demoted():
    cap = make_caption("a giraffe standing in a field", imagenet=[("leopard", 0.9)])
    ev = SceneEvidence.build([obj("giraffe")], cap.imagenet)
    tags = top(cap, ev, 10)
    assert "#giraffe" in tags and "#leopard" not in tags


def test_the_things_in_a_room_name_the_room():
    cap = make_caption("a black and white dog is standing in front of a kitchen", probs={"dog": 0.3})
    ev = SceneEvidence.build([obj("oven", 0.7), obj("refrigerator", 0.6, (0.6, 0.0, 1.0, 1.0))], cap.imagenet)
    tags = top(cap, ev)
    assert "#kitchen" in tags
    kitchen = next(h for h in suggest_hashtags(cap, evidence=ev, detector=False) if h.tag == "#kitchen")
    assert "oven" in kitchen.reason and kitchen.box_indices == (0, 1)


def test_a_weak_guess_nothing_supports_is_dropped_once_the_detectors_ran():
    cap = make_caption("a group of people are sitting on a table", probs={"people": 0.2})
    assert "#people" in top(cap, None)  # no detectors: the caption alone decides
    assert "#people" not in top(cap, SceneEvidence.build([]))  # they ran and saw no one


def test_the_reviewed_list_names_real_classes_and_catches_them_in_any_case():
    from desktop_app.captioning.encoder import imagenet_labels
    from desktop_app.tagging.suggest import sensitive_labels

    known = {label.lower() for label in imagenet_labels()}
    assert sensitive_labels() <= known
    cap = make_caption("a man is standing", imagenet=[("Geoffroy's spider monkey", 0.9)])
    assert not any("monkey" in t for t in top(cap, SceneEvidence.build([obj("person")], cap.imagenet), 30))


def test_a_tag_names_a_class_by_its_head_word_or_as_the_class_own_tag():
    from desktop_app.tagging.objects import _head_class

    assert _head_class(("black", "dog")) == "dog"
    assert _head_class(("trafficlight",)) == "traffic light"  # no word of it names the class
    assert _head_class(("baseball",)) == "baseball bat"  # two classes' tag: the first in the file
    assert _head_class(("sunset",)) is None
