"""Near-duplicate detection by MinHash over words (exact copies: ``peacewatch.identity``).

Pure: ``fingerprint`` turns an item's text into a ``Fingerprint``; ``NearDupDecider.compare``
says whether two fingerprints are copies of one report; ``lsh_keys`` gives the buckets under
which a fingerprint is indexed so that candidates are found without comparing everything.
The index itself (which fingerprints exist, per partition) lives in the stage's state.

What counts as a copy (measured on real pairs, see ``eval/neardup/``): the same report
re-published, retitled or lightly edited -- not two outlets' own reports of one event, which
the story clusterer groups instead. Feed items are short and often have an empty summary, so
the title and the body are compared separately:

- both bodies substantial: a copy when the bodies' word-shingle Jaccard is high, or when it is
  moderate and the titles agree too;
- otherwise: a copy when the titles' content words agree almost entirely.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from processors.text import canonical_title, content_words

NUM_PERM = 128
BANDS = 32  # 32 bands of 4 rows: a pair with Jaccard 0.5 is a candidate with p = 0.87, 0.6: 0.99
_ROWS = NUM_PERM // BANDS
# The NUM_PERM hash functions of the MinHash: 32-bit words of keyed BLAKE2b digests (16 words
# per 64-byte digest, so NUM_PERM / 16 digests per token). Fixed keys: fingerprints must
# compare equal across processes and restarts.
_WORDS_PER_DIGEST = 16
_KEYS = tuple(f"peacewatch-minhash-{i}".encode() for i in range(NUM_PERM // _WORDS_PER_DIGEST))
_KEYED = tuple(hashlib.blake2b(digest_size=64, key=key) for key in _KEYS)
# One unpack of all of a token's digests at once, by number of digests.
_UNPACK_ALL = {n: struct.Struct(f"<{n * _WORDS_PER_DIGEST}I").unpack
               for n in range(1, len(_KEYS) + 1)}
TITLE_PERM = 32
MIN_BODY_WORDS = 8
MIN_TITLE_WORDS = 3


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the near-duplicate decision needs of an item, small enough to keep per item:
    the title's content words, and 32-bit hashes of the body's word pairs (None when the body
    is too short to compare). ``body_signature``, the MinHash of those word pairs, only serves
    to index the item; it is not kept."""

    title_words: frozenset[str]
    body_hashes: frozenset[int] | None
    body_words: int
    body_signature: tuple[int, ...] | None = None

    def to_bytes(self) -> bytes:
        hashes = sorted(self.body_hashes or ())
        return struct.pack(f"<I{len(hashes)}I", len(hashes), *hashes)

    @staticmethod
    def hashes_from_bytes(data: bytes) -> frozenset[int] | None:
        (n,) = struct.unpack_from("<I", data)
        return frozenset(struct.unpack_from(f"<{n}I", data, 4)) if n else None


@dataclass(frozen=True, slots=True)
class NearDupThresholds:
    """Measured on labelled pairs (``eval/neardup/measure.py``)."""

    body: float = 0.5  # body Jaccard alone
    body_with_title: float = 0.25  # body Jaccard when the titles also agree ...
    title_with_body: float = 0.5  # ... this much
    title_alone: float = 0.5  # title Jaccard when a body is missing or short, published close
    title_alone_far: float = 0.8  # the same, further apart in time than ``close_hours``
    close_hours: float = 48.0


def _hashes(token: str, digests: int) -> tuple[int, ...]:
    data = token.encode("utf-8")
    parts = []
    for keyed in _KEYED[:digests]:
        h = keyed.copy()  # a keyed hasher copied costs less than one keyed anew
        h.update(data)
        parts.append(h.digest())
    return _UNPACK_ALL[digests](b"".join(parts))


def minhash(tokens: Iterable[str], num_perm: int = NUM_PERM) -> tuple[int, ...] | None:
    """A MinHash signature of a set of tokens (None for an empty set): for each of
    ``num_perm`` hash functions, the smallest value over the tokens."""
    digests = -(-num_perm // _WORDS_PER_DIGEST)
    rows = [_hashes(t, digests) for t in set(tokens)]
    if not rows:
        return None
    return tuple(map(min, zip(*rows, strict=True)))[:num_perm]


def shingles(words: Sequence[str], k: int = 2) -> set[str]:
    if len(words) < k:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + k]) for i in range(len(words) - k + 1)}


def _hash32(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=4).digest(), "big")


def fingerprint(title: str, body: str) -> Fingerprint:
    """Fingerprint an item from its title and its body (summary, or content when longer)."""
    body_tokens = content_words(body)
    title_words = frozenset(content_words(canonical_title(title)))
    if len(body_tokens) < MIN_BODY_WORDS:
        return Fingerprint(title_words, None, len(body_tokens))
    pairs = shingles(body_tokens)
    return Fingerprint(title_words, frozenset(map(_hash32, pairs)), len(body_tokens),
                       minhash(pairs))


def jaccard(a: frozenset[str] | frozenset[int], b: frozenset[str] | frozenset[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def estimate_jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


@dataclass(frozen=True, slots=True)
class Similarity:
    title: float
    body: float | None  # None when either body is too short to compare


class NearDupDecider:
    """Decides whether two fingerprints are copies of one report."""

    def __init__(self, thresholds: NearDupThresholds | None = None) -> None:
        self.t = thresholds or NearDupThresholds()

    @staticmethod
    def similarity(a: Fingerprint, b: Fingerprint) -> Similarity:
        body = None
        if a.body_hashes is not None and b.body_hashes is not None:
            body = jaccard(a.body_hashes, b.body_hashes)
        return Similarity(jaccard(a.title_words, b.title_words), body)

    def is_copy(self, sim: Similarity, a: Fingerprint, b: Fingerprint,
                hours_apart: float | None = None) -> bool:
        if sim.body is not None:
            # Both bodies are there: they decide. Two outlets' reports of one event share a
            # title's words but not their bodies' word pairs.
            if sim.body >= self.t.body:
                return True
            return sim.body >= self.t.body_with_title and sim.title >= self.t.title_with_body
        # A body is missing or short: the titles must carry it, and short titles
        # ("Live updates") cannot. A retitled copy is re-published within a day or two.
        if min(len(a.title_words), len(b.title_words)) < MIN_TITLE_WORDS:
            return False
        close = hours_apart is not None and hours_apart <= self.t.close_hours
        return sim.title >= (self.t.title_alone if close else self.t.title_alone_far)

    def compare(self, a: Fingerprint, b: Fingerprint, hours_apart: float | None = None) -> bool:
        return self.is_copy(self.similarity(a, b), a, b, hours_apart)


def _bands(prefix: str, sig: Sequence[int], rows: int) -> list[str]:
    return [
        f"{prefix}{n}:" + hashlib.blake2b(
            struct.pack(f"<{rows}I", *sig[start:start + rows]), digest_size=8).hexdigest()
        for n, start in enumerate(range(0, len(sig), rows))
    ]


def lsh_keys(fp: Fingerprint) -> list[str]:
    """Index buckets of a fingerprint: bands of the body signature (16 x 4 rows) and of the
    title signature (8 x 2 rows: titles are short, so their bands are finer). Candidates
    sharing a bucket are then compared for real."""
    keys = _bands("b", fp.body_signature, _ROWS) if fp.body_signature is not None else []
    title_sig = minhash(fp.title_words, TITLE_PERM)
    if title_sig is not None:
        keys += _bands("t", title_sig, 2)
    return keys
