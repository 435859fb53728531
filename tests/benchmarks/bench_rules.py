"""Rule matching time per message at 10, 100 and 1,000 rules.

    .venv/bin/python -m tests.benchmarks.bench_rules

Rules are generated like an admin's: keyword lists, channel filters, some regexes, some sender
domains. Prints the median and 99th percentile per message (collector paused while timing), and the
mean time of `explain`, which walks every rule to say why.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from datetime import UTC, datetime

from rules.facts import Facts
from rules.load import load_ruleset
from rules.tomlsource import parse_toml

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_VOCAB = random.Random(0)
# Distinct made-up words, so keyword prefixes do not overlap more than in real language.
WORDS = sorted({"".join(_VOCAB.choices(_LETTERS, k=_VOCAB.randint(5, 9))) for _ in range(6000)})[
    :5000
]
COMMON = [
    "the",
    "a",
    "to",
    "my",
    "order",
    "is",
    "and",
    "i",
    "please",
    "you",
    "it",
    "not",
    "of",
    "for",
    "on",
    "with",
    "was",
    "have",
    "help",
    "this",
]
CHANNELS = ["email", "webhook", "telegram", "x", "webchat"]


def rules_toml(count: int, rng: random.Random) -> str:
    parts = ["[teams.support]\n[teams.billing]\n"]
    for i in range(count):
        parts.append(f'[[rules.list]]\nname = "rule {i}"\n')
        parts.append(f"when.text_any = {rng.sample(WORDS, 4)!r}\n".replace("'", '"'))
        if i % 3 == 0:
            parts.append(f'when.channel = ["{rng.choice(CHANNELS)}"]\n')
        if i % 10 == 0:
            parts.append(f'when.text_regex = "order #{i}\\\\d+"\n')
        if i % 7 == 0:
            parts.append(f'when.sender_domain = ["d{i}.example"]\n')
        parts.append(f'then.team = "{rng.choice(["support", "billing"])}"\nthen.tags = ["t{i}"]\n')
    return "\n".join(parts)


def message(rng: random.Random) -> Facts:
    # A customer's message: mostly everyday words, a handful that some rule may care about.
    words = [rng.choice(COMMON) for _ in range(72)] + rng.sample(WORDS, 8)
    rng.shuffle(words)
    text = " ".join(words)
    return Facts(
        channel=rng.choice(CHANNELS),
        account="a",
        text=text,
        subject="Question about my order",
        now=datetime(2026, 11, 24, 10, tzinfo=UTC),
        sender="jo@customer.example",
        sender_email="jo@customer.example",
    )


def measure(count: int, messages: int = 2000) -> tuple[float, float, float, float]:
    rng = random.Random(count)
    started = time.perf_counter()
    ruleset = load_ruleset(parse_toml(rules_toml(count, rng), "bench.toml"))
    load_ms = (time.perf_counter() - started) * 1000
    facts = [message(rng) for _ in range(messages)]
    timings = []
    gc.collect()
    gc.disable()  # measure matching, not the collector's pauses
    for item in facts:
        t0 = time.perf_counter_ns()
        ruleset.match(item)
        timings.append((time.perf_counter_ns() - t0) / 1000)
    gc.enable()
    timings.sort()
    median = statistics.median(timings)
    p99 = timings[int(len(timings) * 0.99)]
    t0 = time.perf_counter_ns()
    for item in facts[:200]:
        ruleset.explain(item)
    explain = (time.perf_counter_ns() - t0) / 1000 / 200
    return load_ms, median, p99, explain


def main() -> None:
    print(
        f"{'rules':>6} | {'load+compile ms':>15} | {'match median µs':>15} | {'match p99 µs':>12} | {'explain µs':>10}"
    )
    print("-" * 72)
    for count in (10, 100, 1000):
        load_ms, median, p99, explain = measure(count)
        print(f"{count:>6} | {load_ms:>15.1f} | {median:>15.1f} | {p99:>12.1f} | {explain:>10.1f}")


if __name__ == "__main__":
    main()
