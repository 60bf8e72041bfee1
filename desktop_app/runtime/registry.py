"""The one list of shipped model files (model_assets/registry.json), verified before use.

Each entry names a file under model_assets/, its sha256 and size, where it came from and under
which licence. `verified_path(name)` is the only way the app gets a model file's path: it hashes
the file (~10 ms for 17 MB) and raises `ModelFileError`, naming the file, when it is missing or
was changed. The conversion scripts (build_scripts/convert_tflite.py) write the entries of the
files they make; `hashlens --version` and the third-party notice list them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import ModelFileError
from ..fingerprint import content_hash, stable_file_hash
from ..paths import model_assets_dir

REGISTRY_NAME = "registry.json"
FORMAT = "hashlens-model-registry"


@dataclass(frozen=True)
class ModelEntry:
    name: str  # how the code asks for it: "encoder", "tag_detector", ...
    file: str  # relative to model_assets/, forward slashes
    sha256: str
    bytes: int
    role: str  # "runtime" (tagging loads it) or "source" (training / conversion / GPU path)
    description: str
    source: str
    licence: str

    def to_dict(self) -> dict:
        return asdict(self)


def registry_path() -> Path:
    return model_assets_dir() / REGISTRY_NAME


def read_registry() -> dict[str, ModelEntry]:
    """All entries by name; a missing or unreadable registry is a ModelFileError."""
    path = registry_path()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}")
        entries = [ModelEntry(**e) for e in doc["models"]]
    except FileNotFoundError:
        raise ModelFileError(f"the model registry {path} is missing; reinstall hashlens") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"the model registry {path} is damaged ({exc}); reinstall hashlens") from None
    return {e.name: e for e in entries}


def write_registry(entries: dict[str, ModelEntry]) -> Path:
    """(Build scripts.) Entries sorted by name, so a rewrite changes only what changed."""
    path = registry_path()
    doc = {"format": FORMAT, "format_version": 1,
           "models": [entries[k].to_dict() for k in sorted(entries)]}
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def entry_for(file: Path, name: str, role: str, description: str, source: str,
              licence: str) -> ModelEntry:
    """(Build scripts.) The entry of a file just written under model_assets/."""
    rel = file.resolve().relative_to(model_assets_dir().resolve()).as_posix()
    return ModelEntry(name, rel, content_hash(file), file.stat().st_size, role, description, source,
                      licence)


def verify_file(entry: ModelEntry) -> Path:
    """The entry's file, once its size and sha256 match the registry (else ModelFileError).
    (Hashed once a process while its size and mtime stay the same: fingerprint.stable_file_hash.)"""
    path = model_assets_dir() / entry.file
    what = f"model file {entry.file} ({entry.description})"
    try:
        size = path.stat().st_size
        if size != entry.bytes:
            raise ModelFileError(f"{what} is damaged: {size} bytes, the registry says "
                                 f"{entry.bytes}; reinstall hashlens")
        if stable_file_hash(path) != entry.sha256:
            raise ModelFileError(f"{what} does not match its checksum in the model registry "
                                 "(damaged or changed after installation); reinstall hashlens")
    except FileNotFoundError:
        raise ModelFileError(f"{what} is missing from {path.parent}; reinstall hashlens") from None
    except OSError as exc:
        raise ModelFileError(f"{what} cannot be read: {exc.strerror or exc}") from None
    return path


@lru_cache(maxsize=1)
def _shipped() -> dict[str, ModelEntry]:
    return read_registry()


def shipped_entry(name: str) -> ModelEntry:
    entries = _shipped()
    if name not in entries:
        raise ModelFileError(f"the model registry has no model named {name!r}; reinstall hashlens")
    return entries[name]


def verified_path(name: str) -> Path:
    """The path of a shipped model file, verified against the registry."""
    return verify_file(shipped_entry(name))
