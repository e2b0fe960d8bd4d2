"""rules/cost.py reads "training"/"serving" words with a plain search of the lowered text where the text is
ASCII (re.I's Unicode folding is ~10x slower); it must answer exactly as the re.I pattern does."""
from __future__ import annotations

import random
import string

from tagguard.rules import cost


def _words() -> list[str]:
    rng = random.Random(13)
    pieces = ["train", "TRAIN", "Fine-Tun", "finetun", "fine_tun", "INFER", "Serv", "endpoint", "ONLINE", "onlin",
              "tra1n", "trai", "-", ".", "[\"x\"]", "batch", "ſerv", "ﬁne-tun", "İnfer", "K", "\u212a", "TRAİN"]
    alphabet = string.ascii_letters + string.digits + "-_.[]\"/"
    out = list(pieces)
    for _ in range(3000):
        parts = [rng.choice(pieces) if rng.random() < 0.4 else "".join(rng.choice(alphabet)
                 for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(1, 4))]
        out.append("".join(parts))
    return out


def test_lowered_ascii_search_answers_as_the_folding_pattern():
    words = _words()
    assert any(cost._TRAIN.search(w) for w in words) and any(not cost._SERVE.search(w) for w in words)
    for w in words:
        assert cost._says(cost._TRAIN_LOWER, cost._TRAIN, w) == (cost._TRAIN.search(w) is not None), w
        assert cost._says(cost._SERVE_LOWER, cost._SERVE, w) == (cost._SERVE.search(w) is not None), w


def test_non_ascii_words_keep_unicode_folding():
    # U+017F (long s) folds to "s" under re.I, and lower() leaves it as it is: such text takes the re.I pattern
    assert cost._says(cost._SERVE_LOWER, cost._SERVE, "model-\u017ferving")
    assert not cost._SERVE_LOWER.search("model-\u017ferving".lower())
