"""What the detectors saw, made usable by the caption and the hashtags.

    classes.py    the 80 COCO classes: caption words, hashtag, plural, usual setting
    evidence.py   SceneEvidence: per class how sure the detectors (and the classifier) are,
                  what they confidently saw, and which caption words they contradict
    grounding.py  the caption follows the evidence: a word bias for the beam search, then a
                  contradicted subject replaced, or a plain sentence from the detections

No TensorFlow, no Qt: pure functions over results.Detection and results.CaptionResult.
"""
