"""Shared helpers for end-to-end tests and benchmarks: the speech corpus and WER scoring.

Transcripts are scored with Whisper's English text normaliser (case, punctuation, numbers
and spelling variants folded the same way for reference and hypothesis) and jiwer's
corpus-level word error rate.
"""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import BinaryIO

import jiwer
import numpy as np
from whisper_normalizer.basic import BasicTextNormalizer
from whisper_normalizer.english import EnglishTextNormalizer

REPO = Path(__file__).resolve().parents[2]
AUDIO_DIR = (REPO.parent / "shared" / "audio").resolve()
MANIFEST = AUDIO_DIR / "manifest.jsonl"


@dataclass(frozen=True, slots=True)
class Clip:
    """One manifest entry: an audio file and its reference text."""

    path: Path
    set: str
    language: str
    duration_s: float
    text: str
    translation_en: str | None
    reference_quality: str


@cache
def clips() -> tuple[Clip, ...]:
    """All clips of ../shared/audio/manifest.jsonl."""
    out = []
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        out.append(
            Clip(
                path=AUDIO_DIR / entry["path"],
                set=entry["set"],
                language=entry["language"],
                duration_s=float(entry["duration_s"]),
                text=entry["text"],
                translation_en=entry.get("translation_en"),
                reference_quality=str(entry.get("reference_quality", "")),
            )
        )
    return tuple(out)


def clips_of(set_name: str) -> list[Clip]:
    """The clips of one set, exact references only."""
    return [c for c in clips() if c.set == set_name and c.reference_quality.startswith("exact")]


def clip(relative_path: str) -> Clip:
    """The manifest entry for a path relative to ../shared/audio."""
    for c in clips():
        if c.path == AUDIO_DIR / relative_path:
            return c
    raise KeyError(relative_path)


def write_wav(target: Path | BinaryIO, audio: np.ndarray, rate: int) -> None:
    """Mono audio as a 16-bit PCM WAV file: float samples in [-1, 1] are scaled and clipped,
    int16 samples written as they are."""
    if audio.dtype != np.int16:
        audio = np.clip(np.round(audio * 32767), -32768, 32767)
    with wave.open(target if not isinstance(target, Path) else str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(audio.astype("<i2").tobytes())


_english = EnglishTextNormalizer()
_basic = BasicTextNormalizer()


_BRACKETS = str.maketrans({c: " " for c in "()[]{}"})


def normalize(text: str, language: str = "en") -> str:
    """Whisper's normaliser: the English one for English, the basic one otherwise.

    Brackets are dropped first but their words kept: Whisper's normaliser deletes text in
    brackets, and references such as LJ001-0024 put spoken words in parentheses.
    """
    text = text.translate(_BRACKETS)
    return _english(text) if language == "en" else _basic(text)


def wer(references: list[str], hypotheses: list[str], language: str = "en") -> float:
    """Corpus-level word error rate (0..1) after normalisation."""
    refs = [normalize(r, language) for r in references]
    hyps = [normalize(h, language) for h in hypotheses]
    pairs = [(r, h) for r, h in zip(refs, hyps, strict=True) if r.strip()]
    return float(
        jiwer.wer([r for r, _ in pairs], [h if h.strip() else "<empty>" for _, h in pairs])
    )
