"""Unit tests of the live commit policy (stt_worker.live_policy), with no engine and no clock."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from stt_worker.live_policy import (
    CommitPolicy,
    LiveOptions,
    LiveUpdate,
    WindowRequest,
    run_window,
)
from stt_worker.live_session import LiveWindow
from stt_worker.types import Segment, WindowDecode, Word

RATE = 16_000


def ms(seconds: float) -> int:
    """Seconds as the engine's milliseconds."""
    return round(seconds * 1000)


WORDS = [
    "And",
    "so",
    "my",
    "fellow",
    "Americans,",
    "ask",
    "not",
    "what",
    "your",
    "country",
    "can",
    "do",
    "for",
    "you,",
    "ask",
    "what",
    "you",
    "can",
    "do",
    "for",
    "your",
    "country.",
    "The",
    "earliest",
    "book",
    "printed",
    "with",
    "movable",
    "types,",
    "the",
    "Gutenberg",
    "Bible,",
    "is",
    "printed",
    "in",
    "letters",
    "which",
    "are",
    "an",
    "exact",
    "imitation",
    "of",
    "the",
    "more",
    "formal",
    "ecclesiastical",
    "writing.",
]


def spoken(
    words: list[str], word_s: float = 0.4, gap_s: float = 0.1, pause_every: int = 7
) -> list[tuple[str, float, float]]:
    """Reference words with times: steady speech, a longer pause every few words."""
    out, t = [], 0.5
    for i, word in enumerate(words):
        out.append((word, t, t + word_s))
        t += word_s + (0.6 if (i + 1) % pause_every == 0 else gap_s)
    return out


class OracleDecoder:
    """Hears exactly the reference words that lie inside the window.

    A word still being spoken at the window's end comes out garbled (as a real decoder's
    last word often does), so local agreement has something to reject.
    """

    def __init__(self, timeline: list[tuple[str, float, float]], settle_s: float = 0.0) -> None:
        self.timeline = timeline
        self.settle_s = settle_s  # a word changes between calls until this much audio follows it,
        self.calls = 0  # unless a pause of 0.4 s follows it

    def __call__(self, request: WindowRequest) -> WindowDecode:
        self.calls += 1
        start = request.offset_s
        end = start + request.audio.size / RATE
        words = []
        for text, w_start, w_end in self.timeline:
            if w_start < start - 0.05 or w_start >= end:
                continue
            heard = text if w_end <= end else text[: max(1, len(text) // 2)] + "-"
            next_start = next((s for _, s, _ in self.timeline if s > w_start), float("inf"))
            paused = next_start - w_end >= 0.4 and end - w_end >= 0.4
            if end - w_end < self.settle_s and not paused:
                heard = f"{heard}~{self.calls}"
            words.append(Word(" " + heard, ms(w_start - start), ms(min(w_end, end) - start), 0.9))
        if not words:
            return WindowDecode((), "en", 1.0)
        segment = Segment(
            "".join(w.text for w in words),
            words[0].start_ms,
            words[-1].end_ms,
            tuple(words),
            avg_logprob=-0.2,
            no_speech_probability=0.01,
        )
        return WindowDecode((segment,), "en", 1.0)


class EnergyDetector:
    """Speech = loud samples; regions split at silences of 0.3 s or more (like Silero)."""

    def speech_regions(self, audio: np.ndarray, threshold: float) -> list[tuple[float, float]]:
        del threshold
        loud = np.flatnonzero(np.abs(audio) > 0.01)
        if loud.size == 0:
            return []
        breaks = np.flatnonzero(np.diff(loud) > 0.3 * RATE)
        starts = [loud[0], *loud[breaks + 1]]
        ends = [*loud[breaks], loud[-1]]
        return [(a / RATE, (b + 1) / RATE) for a, b in zip(starts, ends, strict=True)]


def audio_for(timeline: list[tuple[str, float, float]], tail_s: float = 1.0) -> np.ndarray:
    total = timeline[-1][2] + tail_s if timeline else tail_s
    audio = np.zeros(int(total * RATE), dtype=np.float32)
    for _, start, end in timeline:
        audio[int(start * RATE) : int(end * RATE)] = 0.1
    return audio


def step(
    policy: CommitPolicy, decoder: OracleDecoder, *, final: bool = False, under_load: bool = False
) -> tuple[WindowRequest | None, LiveUpdate | None]:
    request = policy.next_request(final=final)
    if request is None:
        return None, None
    return request, policy.apply(
        request,
        run_window(request, decoder, EnergyDetector()),
        final=final,
        under_load=under_load,
    )


def stream(
    policy: CommitPolicy, decoder: OracleDecoder, audio: np.ndarray, chunk_s: float = 0.256
) -> list[LiveUpdate]:
    """Feed audio in chunks, decoding whenever the policy asks; flush at the end."""
    updates = []
    chunk = int(chunk_s * RATE)
    for i in range(0, audio.size, chunk):
        policy.push_audio(audio[i : i + chunk])
        if policy.wants_decode():
            _, update = step(policy, decoder)
            if update is not None and (update.committed or update.partial or update.language):
                updates.append(update)
    _, update = step(policy, decoder, final=True)
    if update is not None and (update.committed or update.partial or update.language):
        updates.append(update)
    return updates


def longest_window(
    policy: CommitPolicy, decoder: OracleDecoder, audio: np.ndarray, *, under_load: bool = False
) -> float:
    """Streams `audio` (no flush) and returns the longest window decoded, seconds."""
    longest = 0.0
    chunk = int(0.256 * RATE)
    for i in range(0, audio.size, chunk):
        policy.push_audio(audio[i : i + chunk])
        if policy.wants_decode():
            request, _ = step(policy, decoder, under_load=under_load)
            if request is not None:
                longest = max(longest, request.audio.size / RATE)
    return longest


def words_of(text: str) -> list[str]:
    return text.split()


def make_policy(**overrides: object) -> CommitPolicy:
    options = LiveOptions(language="en", is_multilingual=False, **overrides)  # type: ignore[arg-type]
    return CommitPolicy(options, clock=lambda: 0.0)


def test_policy_commits_every_word_once_in_order() -> None:
    timeline = spoken(WORDS)
    policy = make_policy()
    updates = stream(policy, OracleDecoder(timeline), audio_for(timeline))
    committed = [seg for u in updates for seg in u.committed]
    assert words_of("".join(s.text for s in committed)) == WORDS
    assert policy.committed_text.split() == WORDS


def test_policy_committed_segments_never_change_and_are_ordered() -> None:
    timeline = spoken(WORDS)
    policy = make_policy()
    updates = stream(policy, OracleDecoder(timeline), audio_for(timeline))
    committed = [seg for u in updates for seg in u.committed]
    assert [s.index for s in committed] == list(range(len(committed)))
    assert all(s.is_final for s in committed)
    for earlier, later in itertools.pairwise(committed):
        assert earlier.end_s <= later.start_s + 1e-9
        assert later.start_s <= later.end_s
    # Nothing garbled is ever committed: every committed word is a reference word.
    assert all(not w.endswith("-") for s in committed for w in s.text.split())


def test_policy_partial_is_never_committed_text() -> None:
    timeline = spoken(WORDS)
    policy = make_policy()
    updates = stream(policy, OracleDecoder(timeline), audio_for(timeline))
    committed_so_far = 0
    for update in updates:
        committed_so_far += sum(len(s.text.split()) for s in update.committed)
        if update.partial is not None:
            assert not update.partial.is_final
            assert update.partial.index == (
                update.committed[-1].index + 1 if update.committed else update.partial.index
            )
    assert committed_so_far == len(WORDS)


def test_policy_flush_commits_words_spoken_right_before_the_end() -> None:
    timeline = spoken(WORDS[:6])
    policy = make_policy()
    # End the stream 0.05 s after the last word: no decode after it could agree on it.
    updates = stream(policy, OracleDecoder(timeline), audio_for(timeline, tail_s=0.05))
    assert policy.committed_text.split() == WORDS[:6]
    assert updates[-1].partial is None


def test_policy_trims_the_buffer_behind_committed_words() -> None:
    timeline = spoken(WORDS * 3)
    policy = make_policy()
    decoder = OracleDecoder(timeline)
    longest = longest_window(policy, decoder, audio_for(timeline))
    assert policy.received_s > 60
    assert longest < 12, f"window grew to {longest:.1f}s"


def test_policy_silence_is_never_decoded() -> None:
    policy = make_policy()
    decoder = OracleDecoder([])
    updates = stream(policy, decoder, np.zeros(RATE * 20, dtype=np.float32))
    assert decoder.calls == 0
    assert updates == []
    assert policy.committed_text == ""
    assert policy.buffer_s <= 1.5  # silent audio does not pile up


def test_policy_unstable_text_is_forced_out_when_the_window_grows_too_long() -> None:
    timeline = spoken(WORDS)

    class Flaky(OracleDecoder):
        def __call__(self, request: WindowRequest) -> WindowDecode:
            result = super().__call__(request)
            if not result.segments:
                return result
            # The first word never agrees with the previous hypothesis.
            seg = result.segments[0]
            first = seg.words[0]
            changed = replace(first, text=first.text + str(self.calls))
            words = (changed, *seg.words[1:])
            return WindowDecode((replace(seg, words=words),), "en", 1.0)

    policy = make_policy(max_buffer_s=6.0)
    decoder = Flaky(timeline)
    longest = longest_window(policy, decoder, audio_for(timeline))
    assert policy.committed_text.strip(), "forced commits must happen"
    assert longest < 6.0 + 3.0


def test_policy_language_is_announced_once_when_detected() -> None:
    timeline = spoken(WORDS[:10])

    class German(OracleDecoder):
        def __call__(self, request: WindowRequest) -> WindowDecode:
            result = super().__call__(request)
            return WindowDecode(result.segments, "de", 0.9)

    policy = CommitPolicy(LiveOptions(language=None, is_multilingual=True), clock=lambda: 0.0)
    updates = stream(policy, German(timeline), audio_for(timeline))
    announced = [u.language for u in updates if u.language]
    assert announced == ["de"]
    assert policy.language == "de"


@pytest.mark.parametrize("prompt", [None, "Glossary: Gutenberg."])
def test_policy_prompts_every_window_with_the_clients_prompt_only(prompt: str | None) -> None:
    # Committed text is never prompted: shown it, Whisper skips new words that resemble it.
    timeline = spoken(WORDS)
    policy = make_policy(initial_prompt=prompt)
    decoder = OracleDecoder(timeline)
    audio = audio_for(timeline)
    chunk = int(0.256 * RATE)
    windows = 0
    for i in range(0, audio.size, chunk):
        policy.push_audio(audio[i : i + chunk])
        if policy.wants_decode():
            request = policy.next_request()
            if request is None:
                continue
            windows += 1
            # What the engine is given for the window (LiveWindow: no detector, defaults).
            window = LiveWindow(request, None, (None, None)).prepare()
            assert window is not None
            assert window.options.initial_prompt == prompt
            assert window.options.previous_text is None
            step(policy, decoder)
    assert windows > 5
    assert policy.committed_text.split() == WORDS[: len(policy.committed_text.split())]


def test_policy_commits_words_before_a_pause_without_waiting_for_agreement() -> None:
    # Words in groups of 7 with 0.6 s pauses, decoded every 0.75 s (a loaded worker).
    # Agreement needs two decodes after a word settles; the pause rule commits a group's
    # last word at the first decode that sees 0.5 s of silence after it: one cycle sooner.
    timeline = spoken(WORDS[:21], pause_every=7)
    group_ends = [end for i, (_, _, end) in enumerate(timeline) if (i + 1) % 7 == 0]
    policy = make_policy(min_step_s=0.75, pause_commit_s=0.5)
    decoder = OracleDecoder(timeline, settle_s=0.8)
    audio = audio_for(timeline)
    chunk = int(0.25 * RATE)
    committed_at: dict[float, float] = {}
    for i in range(0, audio.size, chunk):
        policy.push_audio(audio[i : i + chunk])
        if policy.wants_decode():
            _, update = step(policy, decoder)
            for seg in update.committed if update is not None else ():
                for end in group_ends:
                    if seg.end_s >= end - 1e-6:
                        committed_at.setdefault(end, policy.received_s)
    step(policy, decoder, final=True)
    assert policy.committed_text.split() == WORDS[:21]
    lags = [committed_at[end] - end for end in group_ends[:-1]]  # the last one is flushed
    assert max(lags) <= 0.5 + 0.75 + 0.05, lags


def test_policy_commit_is_slower_without_pauses_but_bounded() -> None:
    timeline = spoken(WORDS, gap_s=0.05, pause_every=1000)
    policy = make_policy(min_step_s=0.25)
    decoder = OracleDecoder(timeline)
    audio = audio_for(timeline, tail_s=0.0)
    chunk = int(0.25 * RATE)
    lags = []
    for i in range(0, audio.size, chunk):
        policy.push_audio(audio[i : i + chunk])
        if policy.wants_decode():
            _, update = step(policy, decoder)
            if update is not None:
                lags.extend(policy.received_s - seg.end_s for seg in update.committed)
    assert lags and max(lags) <= 1.5, lags


def test_policy_never_commits_a_repetition_loop() -> None:
    timeline = spoken(WORDS[:10])

    class Looping(OracleDecoder):
        def __call__(self, request: WindowRequest) -> WindowDecode:
            result = super().__call__(request)
            end = ms(request.audio.size / RATE)
            loop = tuple(Word(" the", end - 10, end, 0.5) for _ in range(30))
            garbage = Segment(
                " the" * 30,
                0,
                1000,
                loop,
                avg_logprob=-0.2,
                compression_ratio=9.0,
                no_speech_probability=0.01,
            )
            return WindowDecode((*result.segments, garbage), "en", 1.0)

    policy = make_policy()
    stream(policy, Looping(timeline), audio_for(timeline))
    assert policy.committed_text.split() == WORDS[:10]


def _first_commit_at(settle_s: float | None) -> tuple[float, list[str]]:
    """Decoding every 2 s of audio (a loaded worker), when the first word commits (seconds
    of audio received) and what is committed in the end."""
    timeline = spoken(WORDS, pause_every=1000)  # no pauses to commit at
    policy = make_policy(min_step_s=2.0, settle_s=settle_s)
    decoder = OracleDecoder(timeline)
    audio = audio_for(timeline)
    first_at = None
    chunk = int(0.256 * RATE)
    for i in range(0, audio.size, chunk):
        policy.push_audio(audio[i : i + chunk])
        if policy.wants_decode():
            _, update = step(policy, decoder)
            if first_at is None and update is not None and update.committed:
                first_at = policy.received_s
    step(policy, decoder, final=True)
    assert first_at is not None
    return first_at, policy.committed_text.split()


def test_policy_settled_words_commit_on_first_sight_under_load() -> None:
    waiting, waited_text = _first_commit_at(None)
    settled, settled_text = _first_commit_at(1.0)
    assert settled_text == waited_text == WORDS
    # Without settling a word needs a second decode (2 s more audio) to agree.
    assert settled <= waiting - 1.9, (settled, waiting)


def test_policy_cuts_fluent_speech_only_at_pauses_with_few_streams() -> None:
    timeline = spoken(WORDS * 3, gap_s=0.05, pause_every=1000)  # never a 0.25 s pause
    policy = make_policy(trim_s=2.0, load_trim_s=2.0)
    decoder = OracleDecoder(timeline)
    longest = longest_window(policy, decoder, audio_for(timeline))
    assert longest > 15, f"window only grew to {longest:.1f}s"


@pytest.mark.parametrize(
    ("fluent_cut", "under_load"), [(True, False), (False, True)], ids=["option", "under-load"]
)
def test_policy_keeps_windows_short_in_fluent_speech_without_pauses(
    fluent_cut: bool, under_load: bool
) -> None:
    timeline = spoken(WORDS * 3, gap_s=0.05, pause_every=1000)  # never a 0.25 s pause
    policy = make_policy(load_trim_s=2.0, fluent_cut=fluent_cut)
    decoder = OracleDecoder(timeline)
    longest = longest_window(policy, decoder, audio_for(timeline), under_load=under_load)
    step(policy, decoder, final=True)
    assert policy.received_s > 60
    # Cut between words once the window is twice trim_s, not only at 20 s.
    assert longest < 8, f"window grew to {longest:.1f}s"
    assert policy.committed_text.split() == WORDS * 3


# -- words at pauses, cuts at silences, language ---------------------------------------


class StretchingDecoder(OracleDecoder):
    """Like Whisper: the first word after a pause "starts" where the pause began."""

    def __call__(self, request: WindowRequest) -> WindowDecode:
        result = super().__call__(request)
        if not result.segments:
            return result
        words = list(result.segments[0].words)
        for i, word in enumerate(words):
            previous_end = words[i - 1].end_ms if i else 0
            if word.start_ms - previous_end >= 500:
                words[i] = replace(word, start_ms=previous_end)
        segment = replace(result.segments[0], words=tuple(words))
        return replace(result, segments=(segment,))


def test_the_first_word_after_a_pause_is_committed_though_its_time_starts_in_the_pause() -> None:
    # Utterances of four words with pauses of a second, as people talk to a captioner.
    timeline, t = [], 0.5
    for i, word in enumerate(WORDS[:21]):
        timeline.append((word, t, t + 0.4))
        t += 0.4 + (1.0 if (i + 1) % 4 == 0 else 0.1)
    decoder = StretchingDecoder(timeline, settle_s=0.5)
    policy = make_policy()
    stream(policy, decoder, audio_for(timeline))
    assert words_of(policy.committed_text) == WORDS[:21]


def test_a_window_after_a_pause_is_cut_inside_the_silence() -> None:
    # Two utterances 1.5 s apart: once the first is committed, the window is cut in the
    # detected silence, never on the second utterance's onset.
    first = [("Go", 0.5, 0.8), ("forward.", 0.9, 1.4)]
    second = [("Turn", 2.9, 3.2), ("left.", 3.3, 3.7)]
    timeline = first + second
    decoder = OracleDecoder(timeline)
    policy = make_policy()
    audio = audio_for(timeline)
    starts = []
    chunk = int(0.256 * RATE)
    for i in range(0, audio.size, chunk):
        policy.push_audio(audio[i : i + chunk])
        if policy.wants_decode():
            request, _ = step(policy, decoder)
            if request is not None:
                starts.append(request.offset_s)
    step(policy, decoder, final=True)
    assert words_of(policy.committed_text) == ["Go", "forward.", "Turn", "left."]
    later = [s for s in starts if s > 1.4]
    assert later and all(1.4 <= s <= 2.9 - 0.1 for s in later), starts


def test_compound_words_align_whichever_way_whisper_splits_them() -> None:
    from stt_worker.live_policy import _alignment_row

    assert _alignment_row(["seat", "belts"], ["seatbelts", "we"]) == [2, 0, 1]
    assert _alignment_row(["seatbelts"], ["seat", "belts", "we"]) == [1, 1, 0, 1]


class LanguageDecoder:
    """Guesses Arabic on less than two seconds of speech, then hears Spanish."""

    def __call__(self, request: WindowRequest) -> WindowDecode:
        seconds = request.audio.size / RATE
        word = Word(" hola", 0, ms(min(0.4, seconds)), 0.9)
        segment = Segment(
            " hola", 0, word.end_ms, (word,), avg_logprob=-0.2, no_speech_probability=0.01
        )
        if seconds < 1.8:
            return WindowDecode((segment,), "ar", 0.7)
        return WindowDecode((segment,), "es", 0.95)


def test_the_language_is_fixed_only_once_a_window_holds_enough_speech() -> None:
    policy = CommitPolicy(LiveOptions(language=None, is_multilingual=True), clock=lambda: 0.0)
    announced = []
    audio = np.full(int(4.0 * RATE), 0.1, dtype=np.float32)
    chunk = int(0.256 * RATE)
    for i in range(0, audio.size, chunk):
        policy.push_audio(audio[i : i + chunk])
        if policy.wants_decode():
            request = policy.next_request()
            assert request is not None
            update = policy.apply(request, run_window(request, LanguageDecoder(), EnergyDetector()))
            if update.language:
                announced.append(update.language)
            if policy.language is None:
                assert not update.committed, "text committed before its language was known"
    assert announced == ["es"]


def decode_of(
    words: list[tuple[str, float, float]], regions: list[tuple[float, float]]
) -> WindowDecode:
    """One decode: words with times relative to the window, and the window's speech."""
    heard = tuple(Word(" " + text, ms(a), ms(b), 0.9) for text, a, b in words)
    segment = Segment(
        "".join(w.text for w in heard),
        heard[0].start_ms,
        heard[-1].end_ms,
        heard,
        avg_logprob=-0.2,
        no_speech_probability=0.01,
    )
    return WindowDecode((segment,), "en", 1.0, speech_regions=tuple(regions))


def test_the_tail_of_a_committed_word_heard_again_after_a_cut_is_not_committed() -> None:
    # Measured on LJ001 (the longform file): "has never been surpassed." was committed,
    # the window was cut between "been" and "surpassed" where Whisper's times put the
    # gap but "sur-" was already spoken, and the next window heard "passed." first.
    policy = make_policy()
    policy.push_audio(np.full(int(6.2 * RATE), 0.1, dtype=np.float32))
    first = [("has", 4.1, 4.4), ("never", 4.45, 4.8), ("been", 4.85, 5.2), ("surpassed.", 5.6, 6.0)]
    for _ in range(2):
        request = policy.next_request()
        assert request is not None
        policy.apply(request, decode_of(first, [(0.0, 6.2)]))
    assert words_of(policy.committed_text) == ["has", "never", "been", "surpassed."]
    assert 5.2 < policy.received_s - policy.buffer_s < 5.6  # cut between the last two words

    policy.push_audio(np.full(int(2.0 * RATE), 0.1, dtype=np.float32))
    offset = policy.received_s - policy.buffer_s
    # Whisper's times for the tail: inside the committed word, ending a little after it.
    tail = (6.0 - offset - 0.25, 6.0 - offset + 0.35)
    heard = [("passed.", *tail), ("Printing", 1.0, 1.5), ("then", 1.55, 1.9)]
    for _ in range(2):
        request = policy.next_request()
        assert request is not None
        policy.apply(request, decode_of(heard, [(0.0, policy.buffer_s)]))
    assert words_of(policy.committed_text) == [
        "has",
        "never",
        "been",
        "surpassed.",
        "Printing",
        "then",
    ]


def test_words_heard_again_inside_committed_audio_are_not_committed() -> None:
    # A fresh-clone CI run translating German (base) committed "... used as a small hall."
    # and then, from the same audio re-worded, "of the room." at the end.
    policy = make_policy(task="translate")
    policy.push_audio(np.full(int(3.0 * RATE), 0.1, dtype=np.float32))
    said = [("was", 0.2, 0.5), ("used", 0.5, 0.9), ("as", 0.9, 1.1), ("a", 1.1, 1.2)]
    said += [("small", 1.2, 1.6), ("hall.", 1.6, 2.4)]
    for _ in range(2):
        request = policy.next_request()
        assert request is not None
        policy.apply(request, decode_of(said, [(0.1, 3.0)]))
    assert words_of(policy.committed_text) == ["was", "used", "as", "a", "small", "hall."]
    assert policy.buffer_s == policy.received_s  # not cut: the words are decoded again

    policy.push_audio(np.full(int(0.5 * RATE), 0.1, dtype=np.float32))
    reworded = [*said[:-1], ("hall", 1.6, 1.9), ("of", 1.9, 2.0), ("the", 2.0, 2.1)]
    reworded += [("room.", 2.1, 2.5), ("today.", 2.6, 3.2)]
    request = policy.next_request(final=True)
    assert request is not None
    policy.apply(request, decode_of(reworded, [(0.1, 3.3)]), final=True)
    assert words_of(policy.committed_text) == [
        *["was", "used", "as", "a", "small", "hall.", "today."]
    ], "re-worded words were committed again"


@pytest.mark.parametrize(
    ("heard", "committed", "retells"),
    [
        ("passed", "surpassed", True),
        ("stated", "dated", True),
        ("tion", "invention", True),
        ("then", "then", False),  # the same word is an exact match, not a tail
        ("them", "then", False),
        ("may", "made", False),
        ("stones", "ones", False),  # longer than the word: something new
    ],
)
def test_a_tail_is_a_shorter_word_ending_like_the_committed_one(
    heard: str, committed: str, retells: bool
) -> None:
    from stt_worker.live_policy import _retells_tail

    assert _retells_tail(heard, committed) is retells
