"""rules/cost.py reads "training"/"serving" words with a plain search of the lowered text where the text is
ASCII (re.I's Unicode folding is ~10x slower); it must answer exactly as the re.I pattern does."""
from __future__ import annotations

import random
import string

from tagguard.model import Resource
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
    assert not any(literal in "model-\u017ferving".lower() for literal in cost._SERVE_LOWER)


def _words_per_tag(res: Resource) -> list[str]:
    """The definition ``cost._words`` memoises: the address, then each workload-key tag's value as text."""
    return [res.address] + [str(v) for k, v in res.tags.items() if k.lower() in cost.WORKLOAD_KEYS]


def test_words_answer_as_the_per_tag_definition_on_a_hit_and_a_miss():
    rng = random.Random(7)
    keys = list(cost.WORKLOAD_KEYS) + ["Workload", "PURPOSE", "Role", "App.Kubernetes.IO/Component", "Name", "team",
                                       "environment", "workloads", "typ", "\u212aind", "R\u00f4le"]
    values = ["training", "serving", 3, True, None, 1.5, "batch-infer", "x"]
    cost._WORKLOAD_KEYS_OF.clear()
    for i in range(2000):
        tags = {k: rng.choice(values) for k in rng.sample(keys, rng.randint(0, 8))}
        res = Resource(address=f"aws_instance.r{i}", type="aws_instance", source="terraform", tags=tags)
        assert cost._words(res) == _words_per_tag(res)  # a miss, then (same key list) a hit
        assert cost._words(res) == _words_per_tag(res)
        again = Resource(address=f"aws_instance.s{i}", type="aws_instance", source="terraform",
                         tags={k: rng.choice(values) for k in tags})
        assert cost._words(again) == _words_per_tag(again)


def test_workload_key_memo_is_bounded():
    cost._WORKLOAD_KEYS_OF.clear()
    long = {f"k{i}": "v" for i in range(cost._MEMO_LIST_LEN)} | {"Workload": "training"}
    res = Resource(address="aws_instance.long", type="aws_instance", source="terraform", tags=long)
    assert cost._words(res) == ["aws_instance.long", "training"] and not cost._WORKLOAD_KEYS_OF  # too long to keep
    for i in range(cost._MEMO_LISTS + 100):
        res = Resource(address=f"a.r{i}", type="aws_instance", source="terraform", tags={f"k{i}": 1, "role": "serve"})
        assert cost._words(res) == [f"a.r{i}", "serve"]
    assert len(cost._WORKLOAD_KEYS_OF) == cost._MEMO_LISTS
    cost._WORKLOAD_KEYS_OF.clear()
