"""The real gateway and worker against their own OpenAPI document (`GET /openapi.json`).

schemathesis generates requests for every operation from the document (valid and, for the
POST bodies, invalid fields, odd files) and checks each answer: never a 5xx, and status
code, content type, headers and body as documented. Random bytes never decode, so generated
fields are also sent with a tiny real WAV (1.5 s), and a few hand-made cases cover the 200
answers of every response format and the SSE stream.

Budget: a fixed number of examples per operation (MAX_EXAMPLES, MAX_AUDIO_EXAMPLES), a
derandomized run (the same cases every time) and a per-request timeout; the module takes
about 100 s on two busy cores. Every real transcription costs time, so uploads stay tiny.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import TINY_EN, Gateway, serve
from .speech import AUDIO_DIR

# Examples per operation in the fuzzing phase; requests are cheap (the file is sniffed and
# refused long before a transcription), so this sets most of the run time.
MAX_EXAMPLES = 60
# Examples per upload operation with a real (tiny) WAV in place of the generated file: each
# one is a real transcription, so few.
MAX_AUDIO_EXAMPLES = 8
# Generous: a real transcription on two cores shared with other work can take seconds; only
# a hang should fail here, and the budget above bounds the run time.
REQUEST_TIMEOUT_S = 120

CONFORMANCE = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# The remote server of /transcribe/url failing (refused, reset, timed out) is a documented
# 502, the remote's fault and not ours; every other 5xx is a finding.
REMOTE_FAILURE_STATUS = 502


@pytest.fixture(scope="module")
def conformance_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The product on tiny.en; downloads time out fast and reach no loopback address. The
    fuzzer sends far more than the default 600 requests a minute from one address: without
    a higher rate limit most of its requests would be refused with 429 before any route."""
    yield from serve(
        tmp_path_factory,
        "openapi-gateway",
        TINY_EN,
        extra_env={
            "GATEWAY_URL_ALLOWLIST": "",
            "GATEWAY_URL_TIMEOUT_S": "2",
            "GATEWAY_RATE_LIMIT_PER_CLIENT": "100000",
            "GATEWAY_MAX_UPLOADS_PER_CLIENT": "64",
        },
    )


@pytest.fixture(scope="module")
def api_schema(conformance_gateway: Gateway) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(
        f"{conformance_gateway.base_url}/openapi.json", timeout=REQUEST_TIMEOUT_S
    )


# Every operation of the document; test_the_operations_are_all_fuzzed keeps this in step.
# (schemathesis' own pytest plugin, `from_fixture`, fails on pytest 9: it sets
# `request.node._nodeid`, which pytest 9 no longer has; so each operation runs its strategy
# under `@given` here.)
OPERATIONS = [
    ("GET", "/health"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/openapi.json"),
    ("GET", "/metrics"),
    ("GET", "/config.json"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/{model}"),
    ("GET", "/v1/realtime"),
    ("POST", "/v1/audio/transcriptions"),
    ("POST", "/v1/audio/translations"),
    ("POST", "/transcribe"),
    ("POST", "/transcribe/url"),
    ("POST", "/v1/jobs"),
    ("GET", "/v1/jobs"),
    ("GET", "/v1/jobs/{id}"),
    ("DELETE", "/v1/jobs/{id}"),
    ("GET", "/v1/jobs/{id}/result"),
    ("GET", "/v1/jobs/{id}/events"),
]


def _validate(case: schemathesis.Case, response: schemathesis.Response) -> None:
    if case.operation.path == "/transcribe/url":
        assert response.status_code < 500 or response.status_code == REMOTE_FAILURE_STATUS, (
            f"{case.operation.label} answered {response.status_code}: {response.text[:500]}"
        )
        case.validate_response(response, checks=CONFORMANCE)
    else:
        case.validate_response(response, checks=[not_a_server_error, *CONFORMANCE])


# Invalid input exists only where there is input: the POST bodies (`{model}` takes any text).
FUZZ_CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path in OPERATIONS
    for mode in (
        [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
        if method == "POST"
        else [GenerationMode.POSITIVE]
    )
]


@pytest.mark.parametrize(("method", "path", "mode"), FUZZ_CASES)
def test_every_operation_conforms_to_the_document(
    api_schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case) -> None:
        _validate(case, case.call(timeout=REQUEST_TIMEOUT_S))

    check()


@pytest.mark.parametrize(
    "path", ["/v1/audio/transcriptions", "/v1/audio/translations", "/transcribe"]
)
def test_generated_fields_with_real_audio_conform_to_the_document(
    api_schema: schemathesis.BaseSchema, path: str
) -> None:
    """Generated fields reach the worker only with a decodable file: give them one.

    A generated `model` or `language` is almost never one the worker has (a documented 400
    before any decoding), so they are dropped: the prompt, temperature, task and format
    combinations then run real transcriptions.
    """
    operation = api_schema[path]["POST"]
    wav = _tiny_wav()

    def with_audio(case: schemathesis.Case) -> schemathesis.Case:
        if isinstance(case.body, dict):
            fields = {k: v for k, v in case.body.items() if k not in ("model", "language")}
            case.body = {**fields, "file": wav}
        return case

    @settings(
        max_examples=MAX_AUDIO_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy().map(with_audio))
    def check(case: schemathesis.Case) -> None:
        _validate(case, case.call(timeout=REQUEST_TIMEOUT_S))

    check()


def test_the_operations_are_all_fuzzed(conformance_gateway: Gateway) -> None:
    document = httpx.get(f"{conformance_gateway.base_url}/openapi.json", timeout=10).json()
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert documented == set(OPERATIONS)


def _tiny_wav() -> bytes:
    """The first 1.5 s of jfk.wav ("And so my fellow Americans"), 16 kHz mono WAV."""
    with wave.open(str(AUDIO_DIR / "jfk.wav"), "rb") as source:
        rate = source.getframerate()
        params = source.getparams()
        frames = source.readframes(int(rate * 1.5))
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setparams(params)
        target.writeframes(frames)
    return out.getvalue()


SUCCESS_CASES = [
    ("/v1/audio/transcriptions", {"response_format": "json"}, "application/json"),
    ("/v1/audio/transcriptions", {"response_format": "text"}, "text/plain"),
    ("/v1/audio/transcriptions", {"response_format": "srt"}, "text/plain"),
    ("/v1/audio/transcriptions", {"response_format": "vtt"}, "text/plain"),
    (
        "/v1/audio/transcriptions",
        {"response_format": "verbose_json", "timestamp_granularities[]": ["word", "segment"]},
        "application/json",
    ),
    ("/v1/audio/transcriptions", {"stream": "true"}, "text/event-stream"),
    ("/transcribe", {"task": "transcribe"}, "application/json"),
]


@pytest.mark.parametrize(
    ("path", "fields", "content_type"),
    SUCCESS_CASES,
    ids=[f"{path} {sorted(fields.items())}" for path, fields, _ in SUCCESS_CASES],
)
def test_successful_answers_conform_to_the_document(
    api_schema: schemathesis.BaseSchema,
    conformance_gateway: Gateway,
    path: str,
    fields: dict[str, str | list[str]],
    content_type: str,
) -> None:
    operation = api_schema[path]["POST"]
    case = operation.Case(body={"file": _tiny_wav(), **fields}, media_type="multipart/form-data")
    response = case.call(timeout=REQUEST_TIMEOUT_S)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"][0].startswith(content_type), response.headers
    _validate(case, response)


def test_the_document_is_served_without_credentials(conformance_gateway: Gateway) -> None:
    response = httpx.get(f"{conformance_gateway.base_url}/openapi.json", timeout=10)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert "/openapi.json" in document["paths"]
