"""Guessing the customer's language from the text, deterministically.

langdetect is randomized; a fixed seed makes the same text give the same answer in every worker
and every test run. Short texts are guessed badly, so below a few words we say "don't know" and
let the default language apply rather than greet a German customer in Somali.
"""

from __future__ import annotations

import threading

from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException

MIN_LETTERS = 12
MIN_PROBABILITY = 0.70
_LOCK = threading.Lock()


def detect_language(text: str) -> str | None:
    letters = sum(ch.isalpha() for ch in text)
    if letters < MIN_LETTERS:
        return None
    with _LOCK:  # the seed lives on a shared factory; keep guesses reproducible across threads
        DetectorFactory.seed = 0
        try:
            guesses = detect_langs(text[:2000])
        except LangDetectException:
            return None
    best = guesses[0] if guesses else None
    if best is None or best.prob < MIN_PROBABILITY:
        return None
    return str(best.lang).split("-")[0]
