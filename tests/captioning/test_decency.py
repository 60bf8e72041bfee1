"""The reviewed list of word sequences no caption may contain ("a woman eating a baby")."""

import numpy as np

from desktop_app.captioning.beam_search import beam_search
from desktop_app.captioning.decency import never_after
from desktop_app.captioning.vocabulary import Vocabulary

WORDS = "a woman eating young baby sandwich hot dog is".split()
# What a confused model would say, step by step: its first choice and, far behind, the rest.
SCRIPT = ["a", "woman", "eating", "a", "young", "baby"]


def scripted_step(vocab):
    def step(tokens, state, photos):
        (t,) = state
        logp = np.full((len(tokens), len(vocab)), -9.0)
        for row, pos in enumerate(t):
            want = SCRIPT[pos] if pos < len(SCRIPT) else "<end>"
            logp[row, vocab.stoi[want]] = -0.05
            logp[row, vocab.stoi["sandwich"]] = -3.0  # the decent runner-up
            logp[row, vocab.stoi["<end>"]] = max(logp[row, vocab.stoi["<end>"]], -6.0)
        return logp, (t + 1,), np.full((len(tokens), 4), 0.25)
    return step


def decode(vocab, rules):
    state = (np.zeros(3, dtype=np.int64),)
    (hyp,) = beam_search(scripted_step(vocab), state, 1, 3, 8, vocab.start_id, vocab.end_id,
                         banned_ids=(vocab.pad_id, vocab.start_id, vocab.unk_id), repeat_penalty=0.0,
                         never_after=rules)
    return " ".join(vocab.itos[i] for i in hyp.token_ids)


def test_the_decoder_takes_its_next_best_word_instead_of_an_appalling_one():
    vocab = Vocabulary(WORDS)
    assert decode(vocab, None) == "a woman eating a young baby"  # what it would say unchecked
    caption = decode(vocab, never_after(vocab))
    assert "baby" not in caption.split()
    assert caption.startswith("a woman eating a young sandwich")


def test_the_list_names_people_and_animals_but_leaves_food_alone():
    vocab = Vocabulary(WORDS)
    rules = never_after(vocab)
    eating_a = rules.banned([vocab.stoi["eating"], vocab.stoi["a"]])
    assert vocab.stoi["baby"] in eating_a and vocab.stoi["woman"] in eating_a
    assert vocab.stoi["sandwich"] not in eating_a
    # "eating a hot dog" is food: "hot" is not a word that may stand between
    assert rules.banned([vocab.stoi["eating"], vocab.stoi["a"], vocab.stoi["hot"]]) is None
