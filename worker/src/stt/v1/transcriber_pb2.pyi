from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TurnEndReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TURN_END_REASON_UNSPECIFIED: _ClassVar[TurnEndReason]
    TURN_END_REASON_SILENCE: _ClassVar[TurnEndReason]
    TURN_END_REASON_REQUESTED: _ClassVar[TurnEndReason]
    TURN_END_REASON_STREAM_END: _ClassVar[TurnEndReason]

class AudioEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIO_ENCODING_UNSPECIFIED: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_LINEAR16: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_FLOAT32: _ClassVar[AudioEncoding]

class Task(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_UNSPECIFIED: _ClassVar[Task]
    TASK_TRANSCRIBE: _ClassVar[Task]
    TASK_TRANSLATE: _ClassVar[Task]

class TranscriptionMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSCRIPTION_MODE_UNSPECIFIED: _ClassVar[TranscriptionMode]
    TRANSCRIPTION_MODE_FILE: _ClassVar[TranscriptionMode]
    TRANSCRIPTION_MODE_LIVE: _ClassVar[TranscriptionMode]

class SpeechEvent(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPEECH_EVENT_UNSPECIFIED: _ClassVar[SpeechEvent]
    SPEECH_EVENT_SPEECH_BEGIN: _ClassVar[SpeechEvent]
    SPEECH_EVENT_SPEECH_END: _ClassVar[SpeechEvent]
TURN_END_REASON_UNSPECIFIED: TurnEndReason
TURN_END_REASON_SILENCE: TurnEndReason
TURN_END_REASON_REQUESTED: TurnEndReason
TURN_END_REASON_STREAM_END: TurnEndReason
AUDIO_ENCODING_UNSPECIFIED: AudioEncoding
AUDIO_ENCODING_LINEAR16: AudioEncoding
AUDIO_ENCODING_FLOAT32: AudioEncoding
TASK_UNSPECIFIED: Task
TASK_TRANSCRIBE: Task
TASK_TRANSLATE: Task
TRANSCRIPTION_MODE_UNSPECIFIED: TranscriptionMode
TRANSCRIPTION_MODE_FILE: TranscriptionMode
TRANSCRIPTION_MODE_LIVE: TranscriptionMode
SPEECH_EVENT_UNSPECIFIED: SpeechEvent
SPEECH_EVENT_SPEECH_BEGIN: SpeechEvent
SPEECH_EVENT_SPEECH_END: SpeechEvent

class StreamingTranscribeRequest(_message.Message):
    __slots__ = ("config", "audio", "end_turn")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    END_TURN_FIELD_NUMBER: _ClassVar[int]
    config: StreamingTranscribeConfig
    audio: bytes
    end_turn: EndTurn
    def __init__(self, config: _Optional[_Union[StreamingTranscribeConfig, _Mapping]] = ..., audio: _Optional[bytes] = ..., end_turn: _Optional[_Union[EndTurn, _Mapping]] = ...) -> None: ...

class EndTurn(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TurnConfig(_message.Message):
    __slots__ = ("silence_duration_ms", "prefix_padding_ms", "threshold")
    SILENCE_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    PREFIX_PADDING_MS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    silence_duration_ms: int
    prefix_padding_ms: int
    threshold: float
    def __init__(self, silence_duration_ms: _Optional[int] = ..., prefix_padding_ms: _Optional[int] = ..., threshold: _Optional[float] = ...) -> None: ...

class TurnEnd(_message.Message):
    __slots__ = ("turn_index", "start_offset_ms", "end_offset_ms", "had_speech", "reason")
    TURN_INDEX_FIELD_NUMBER: _ClassVar[int]
    START_OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    HAD_SPEECH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    turn_index: int
    start_offset_ms: int
    end_offset_ms: int
    had_speech: bool
    reason: TurnEndReason
    def __init__(self, turn_index: _Optional[int] = ..., start_offset_ms: _Optional[int] = ..., end_offset_ms: _Optional[int] = ..., had_speech: _Optional[bool] = ..., reason: _Optional[_Union[TurnEndReason, str]] = ...) -> None: ...

class VadConfig(_message.Message):
    __slots__ = ("threshold", "min_speech_ms", "min_silence_ms", "speech_pad_ms", "max_speech_ms")
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MIN_SPEECH_MS_FIELD_NUMBER: _ClassVar[int]
    MIN_SILENCE_MS_FIELD_NUMBER: _ClassVar[int]
    SPEECH_PAD_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_SPEECH_MS_FIELD_NUMBER: _ClassVar[int]
    threshold: float
    min_speech_ms: int
    min_silence_ms: int
    speech_pad_ms: int
    max_speech_ms: int
    def __init__(self, threshold: _Optional[float] = ..., min_speech_ms: _Optional[int] = ..., min_silence_ms: _Optional[int] = ..., speech_pad_ms: _Optional[int] = ..., max_speech_ms: _Optional[int] = ...) -> None: ...

class StreamingTranscribeConfig(_message.Message):
    __slots__ = ("encoding", "sample_rate_hertz", "mode", "language_code", "task", "model", "interim_results", "enable_word_time_offsets", "initial_prompt", "hotwords", "temperature", "enable_vad", "vad", "no_speech_threshold", "same_output_threshold", "coarse_segments", "audio_duration_ms", "turns")
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INTERIM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    ENABLE_WORD_TIME_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    INITIAL_PROMPT_FIELD_NUMBER: _ClassVar[int]
    HOTWORDS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    ENABLE_VAD_FIELD_NUMBER: _ClassVar[int]
    VAD_FIELD_NUMBER: _ClassVar[int]
    NO_SPEECH_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SAME_OUTPUT_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    COARSE_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    encoding: AudioEncoding
    sample_rate_hertz: int
    mode: TranscriptionMode
    language_code: str
    task: Task
    model: str
    interim_results: bool
    enable_word_time_offsets: bool
    initial_prompt: str
    hotwords: str
    temperature: float
    enable_vad: bool
    vad: VadConfig
    no_speech_threshold: float
    same_output_threshold: int
    coarse_segments: bool
    audio_duration_ms: int
    turns: TurnConfig
    def __init__(self, encoding: _Optional[_Union[AudioEncoding, str]] = ..., sample_rate_hertz: _Optional[int] = ..., mode: _Optional[_Union[TranscriptionMode, str]] = ..., language_code: _Optional[str] = ..., task: _Optional[_Union[Task, str]] = ..., model: _Optional[str] = ..., interim_results: _Optional[bool] = ..., enable_word_time_offsets: _Optional[bool] = ..., initial_prompt: _Optional[str] = ..., hotwords: _Optional[str] = ..., temperature: _Optional[float] = ..., enable_vad: _Optional[bool] = ..., vad: _Optional[_Union[VadConfig, _Mapping]] = ..., no_speech_threshold: _Optional[float] = ..., same_output_threshold: _Optional[int] = ..., coarse_segments: _Optional[bool] = ..., audio_duration_ms: _Optional[int] = ..., turns: _Optional[_Union[TurnConfig, _Mapping]] = ...) -> None: ...

class WordInfo(_message.Message):
    __slots__ = ("word", "start_offset_ms", "end_offset_ms", "probability")
    WORD_FIELD_NUMBER: _ClassVar[int]
    START_OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    word: str
    start_offset_ms: int
    end_offset_ms: int
    probability: float
    def __init__(self, word: _Optional[str] = ..., start_offset_ms: _Optional[int] = ..., end_offset_ms: _Optional[int] = ..., probability: _Optional[float] = ...) -> None: ...

class TranscriptResult(_message.Message):
    __slots__ = ("segment_index", "transcript", "is_final", "stability", "start_offset_ms", "end_offset_ms", "words", "language_code", "language_probability", "token_ids", "temperature", "avg_logprob", "compression_ratio", "no_speech_probability", "window_offset_ms")
    SEGMENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    STABILITY_FIELD_NUMBER: _ClassVar[int]
    START_OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    AVG_LOGPROB_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_RATIO_FIELD_NUMBER: _ClassVar[int]
    NO_SPEECH_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    WINDOW_OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    segment_index: int
    transcript: str
    is_final: bool
    stability: float
    start_offset_ms: int
    end_offset_ms: int
    words: _containers.RepeatedCompositeFieldContainer[WordInfo]
    language_code: str
    language_probability: float
    token_ids: _containers.RepeatedScalarFieldContainer[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_probability: float
    window_offset_ms: int
    def __init__(self, segment_index: _Optional[int] = ..., transcript: _Optional[str] = ..., is_final: _Optional[bool] = ..., stability: _Optional[float] = ..., start_offset_ms: _Optional[int] = ..., end_offset_ms: _Optional[int] = ..., words: _Optional[_Iterable[_Union[WordInfo, _Mapping]]] = ..., language_code: _Optional[str] = ..., language_probability: _Optional[float] = ..., token_ids: _Optional[_Iterable[int]] = ..., temperature: _Optional[float] = ..., avg_logprob: _Optional[float] = ..., compression_ratio: _Optional[float] = ..., no_speech_probability: _Optional[float] = ..., window_offset_ms: _Optional[int] = ...) -> None: ...

class TranscriptionProgress(_message.Message):
    __slots__ = ("processed_audio_ms", "total_audio_ms")
    PROCESSED_AUDIO_MS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_AUDIO_MS_FIELD_NUMBER: _ClassVar[int]
    processed_audio_ms: int
    total_audio_ms: int
    def __init__(self, processed_audio_ms: _Optional[int] = ..., total_audio_ms: _Optional[int] = ...) -> None: ...

class TranscriptionOptions(_message.Message):
    __slots__ = ("beam_size", "best_of", "temperatures", "condition_on_previous_text", "initial_prompt", "hotwords", "word_timestamps", "vad_filter", "no_speech_threshold", "compression_ratio_threshold", "log_prob_threshold", "task")
    BEAM_SIZE_FIELD_NUMBER: _ClassVar[int]
    BEST_OF_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURES_FIELD_NUMBER: _ClassVar[int]
    CONDITION_ON_PREVIOUS_TEXT_FIELD_NUMBER: _ClassVar[int]
    INITIAL_PROMPT_FIELD_NUMBER: _ClassVar[int]
    HOTWORDS_FIELD_NUMBER: _ClassVar[int]
    WORD_TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    VAD_FILTER_FIELD_NUMBER: _ClassVar[int]
    NO_SPEECH_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_RATIO_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    LOG_PROB_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    beam_size: int
    best_of: int
    temperatures: _containers.RepeatedScalarFieldContainer[float]
    condition_on_previous_text: bool
    initial_prompt: str
    hotwords: str
    word_timestamps: bool
    vad_filter: bool
    no_speech_threshold: float
    compression_ratio_threshold: float
    log_prob_threshold: float
    task: str
    def __init__(self, beam_size: _Optional[int] = ..., best_of: _Optional[int] = ..., temperatures: _Optional[_Iterable[float]] = ..., condition_on_previous_text: _Optional[bool] = ..., initial_prompt: _Optional[str] = ..., hotwords: _Optional[str] = ..., word_timestamps: _Optional[bool] = ..., vad_filter: _Optional[bool] = ..., no_speech_threshold: _Optional[float] = ..., compression_ratio_threshold: _Optional[float] = ..., log_prob_threshold: _Optional[float] = ..., task: _Optional[str] = ...) -> None: ...

class TranscriptionSummary(_message.Message):
    __slots__ = ("duration_ms", "duration_after_vad_ms", "language_code", "language_probability", "options", "model")
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    DURATION_AFTER_VAD_MS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    duration_ms: int
    duration_after_vad_ms: int
    language_code: str
    language_probability: float
    options: TranscriptionOptions
    model: str
    def __init__(self, duration_ms: _Optional[int] = ..., duration_after_vad_ms: _Optional[int] = ..., language_code: _Optional[str] = ..., language_probability: _Optional[float] = ..., options: _Optional[_Union[TranscriptionOptions, _Mapping]] = ..., model: _Optional[str] = ...) -> None: ...

class StreamingTranscribeResponse(_message.Message):
    __slots__ = ("results", "speech_event", "speech_event_offset_ms", "progress", "summary", "turn_end")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SPEECH_EVENT_FIELD_NUMBER: _ClassVar[int]
    SPEECH_EVENT_OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TURN_END_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[TranscriptResult]
    speech_event: SpeechEvent
    speech_event_offset_ms: int
    progress: TranscriptionProgress
    summary: TranscriptionSummary
    turn_end: TurnEnd
    def __init__(self, results: _Optional[_Iterable[_Union[TranscriptResult, _Mapping]]] = ..., speech_event: _Optional[_Union[SpeechEvent, str]] = ..., speech_event_offset_ms: _Optional[int] = ..., progress: _Optional[_Union[TranscriptionProgress, _Mapping]] = ..., summary: _Optional[_Union[TranscriptionSummary, _Mapping]] = ..., turn_end: _Optional[_Union[TurnEnd, _Mapping]] = ...) -> None: ...

class GetWorkerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "is_multilingual", "languages")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IS_MULTILINGUAL_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    name: str
    is_multilingual: bool
    languages: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., is_multilingual: _Optional[bool] = ..., languages: _Optional[_Iterable[str]] = ...) -> None: ...

class WorkerLoad(_message.Message):
    __slots__ = ("active_streams", "max_streams", "queue_depth", "max_queue_depth", "real_time_factor", "live_streams", "live_cycle_ms", "max_live_cycle_ms", "file_backlog_ms", "mean_batch_size")
    ACTIVE_STREAMS_FIELD_NUMBER: _ClassVar[int]
    MAX_STREAMS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    MAX_QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    REAL_TIME_FACTOR_FIELD_NUMBER: _ClassVar[int]
    LIVE_STREAMS_FIELD_NUMBER: _ClassVar[int]
    LIVE_CYCLE_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_LIVE_CYCLE_MS_FIELD_NUMBER: _ClassVar[int]
    FILE_BACKLOG_MS_FIELD_NUMBER: _ClassVar[int]
    MEAN_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    active_streams: int
    max_streams: int
    queue_depth: int
    max_queue_depth: int
    real_time_factor: float
    live_streams: int
    live_cycle_ms: int
    max_live_cycle_ms: int
    file_backlog_ms: int
    mean_batch_size: float
    def __init__(self, active_streams: _Optional[int] = ..., max_streams: _Optional[int] = ..., queue_depth: _Optional[int] = ..., max_queue_depth: _Optional[int] = ..., real_time_factor: _Optional[float] = ..., live_streams: _Optional[int] = ..., live_cycle_ms: _Optional[int] = ..., max_live_cycle_ms: _Optional[int] = ..., file_backlog_ms: _Optional[int] = ..., mean_batch_size: _Optional[float] = ...) -> None: ...

class GetWorkerInfoResponse(_message.Message):
    __slots__ = ("model", "backend", "device", "compute_type", "load", "version", "cpu_threads")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_TYPE_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CPU_THREADS_FIELD_NUMBER: _ClassVar[int]
    model: ModelInfo
    backend: str
    device: str
    compute_type: str
    load: WorkerLoad
    version: str
    cpu_threads: int
    def __init__(self, model: _Optional[_Union[ModelInfo, _Mapping]] = ..., backend: _Optional[str] = ..., device: _Optional[str] = ..., compute_type: _Optional[str] = ..., load: _Optional[_Union[WorkerLoad, _Mapping]] = ..., version: _Optional[str] = ..., cpu_threads: _Optional[int] = ...) -> None: ...
