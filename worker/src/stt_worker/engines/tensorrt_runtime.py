"""`WhisperRuntime` on TensorRT-LLM's C++ executor (imported only by the tensorrt backend).

The executor is set up the way TensorRT-LLM's own Whisper example sets it up
(`ModelRunnerCpp.from_dir(..., is_enc_dec=True)`: encoder and decoder engines, paged KV
cache, in-flight batching); requests then go to the executor directly, one per window,
so each carries its own prompt, returns only its new tokens and asks for logits only
where language detection needs them. Every request of a call is enqueued at once: the
executor runs the encoder on the batch and decodes the windows together.

Nothing here runs without an NVIDIA GPU; the tests in test/gpu exercise it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stt_worker.engines.tensorrt import DecoderOutput, DecoderRequest, EngineManifest

# Shares of the free GPU memory the KV caches take once the engines are loaded (the rest
# stays free for activations), and the cross-attention cache's share of that.
_KV_CACHE_FREE_GPU_MEMORY_FRACTION = 0.5
_CROSS_KV_CACHE_FRACTION = 0.5
# The encoder halves the mel frames (a stride-2 convolution).
_ENCODER_DOWNSAMPLING = 2


class TensorRTLLMRuntime:
    """The encoder and decoder engines of one engine directory, on GPU 0.

    Args:
        engine_dir: The directory (encoder/ and decoder/ engines).
        manifest: What was built.

    Raises:
        Exception: TensorRT-LLM could not load the engines (wrong version or GPU).
    """

    def __init__(self, engine_dir: Path, manifest: EngineManifest) -> None:
        import torch
        from tensorrt_llm.bindings import executor
        from tensorrt_llm.runtime import ModelRunnerCpp

        self._torch: Any = torch
        self._executor_api: Any = executor
        self._dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16}.get(
            manifest.dtype, torch.float16
        )
        self._runner: Any = ModelRunnerCpp.from_dir(
            engine_dir=str(engine_dir),
            is_enc_dec=True,
            max_batch_size=manifest.max_batch_size,
            max_beam_width=manifest.max_beam_width,
            kv_cache_free_gpu_memory_fraction=_KV_CACHE_FREE_GPU_MEMORY_FRACTION,
            cross_kv_cache_fraction=_CROSS_KV_CACHE_FRACTION,
            # Language detection reads the first step's logits; only the requests that
            # ask for them get them.
            gather_generation_logits=True,
        )
        self._eot = _token_id(engine_dir / "tokenizer.json", "<|endoftext|>")
        self._random = random.Random()

    def generate(self, requests: Sequence[DecoderRequest]) -> list[DecoderOutput]:
        """Enqueues every request, waits for all of them; results in request order.

        Raises:
            RuntimeError: The executor reported an error for a request.
        """
        executor = self._runner.executor
        built = [self._request(r) for r in requests]
        ids = list(executor.enqueue_requests(built))
        position = {request_id: index for index, request_id in enumerate(ids)}
        # request id -> sequence index -> (beams' tokens, beams' log-probabilities)
        collected: dict[int, dict[int, tuple[list[list[int]], list[float]]]] = {i: {} for i in ids}
        logits: dict[int, Any] = {}
        done: set[int] = set()
        while len(done) < len(ids):
            for response in executor.await_responses():
                request_id = int(response.request_id)
                if request_id not in position:
                    continue
                if response.has_error():
                    raise RuntimeError(str(response.error_msg))
                result = response.result
                sequence = int(getattr(result, "sequence_index", 0) or 0)
                tokens = [list(beam) for beam in result.output_token_ids]
                scores = list(result.cum_log_probs or [])
                if not scores and result.log_probs:
                    scores = [float(sum(beam)) for beam in result.log_probs]
                collected[request_id][sequence] = (tokens, [float(s) for s in scores])
                if result.generation_logits is not None and request_id not in logits:
                    logits[request_id] = result.generation_logits
                # Final for the whole request: every sampled sequence is in.
                if result.is_final:
                    done.add(request_id)
        outputs = []
        for request_id in ids:
            candidates: list[tuple[tuple[int, ...], float]] = []
            for _, (beams, scores) in sorted(collected[request_id].items()):
                for index, beam in enumerate(beams):
                    score = scores[index] if index < len(scores) else 0.0
                    candidates.append((self._text_tokens(beam), score))
            first = None
            if request_id in logits:
                first = self._first_step(logits[request_id])
            outputs.append(DecoderOutput(tuple(candidates), first))
        return outputs

    def _request(self, request: DecoderRequest) -> object:
        torch, api = self._torch, self._executor_api
        frames = request.features.shape[1]
        features = (
            torch.from_numpy(np.ascontiguousarray(request.features.T))
            .to(dtype=self._dtype)
            .cuda()
            .contiguous()
        )
        if request.temperature > 0:
            sampling = api.SamplingConfig(
                beam_width=1,
                top_k=0,
                top_p=1.0,
                temperature=request.temperature,
                num_return_sequences=request.num_sequences,
                seed=self._random.getrandbits(63),
            )
        else:
            sampling = api.SamplingConfig(beam_width=request.beam_width)
        return api.Request(
            input_token_ids=list(request.prompt),
            max_tokens=request.max_new_tokens,
            streaming=False,
            sampling_config=sampling,
            output_config=api.OutputConfig(
                return_log_probs=True,
                return_generation_logits=request.first_step_logits,
                exclude_input_from_output=True,
            ),
            end_id=self._eot,
            pad_id=self._eot,
            bad_words=[[token] for token in request.suppressed] or None,
            encoder_input_features=features,
            encoder_output_length=frames // _ENCODER_DOWNSAMPLING,
        )

    def _text_tokens(self, beam: list[int]) -> tuple[int, ...]:
        """A beam's new tokens up to (not including) end-of-text."""
        tokens = [int(t) for t in beam]
        if self._eot in tokens:
            tokens = tokens[: tokens.index(self._eot)]
        return tuple(tokens)

    def _first_step(self, logits: object) -> np.ndarray[Any, np.dtype[np.float32]]:
        """The first decoded step's logits of the first beam, as a vector."""
        tensor = self._torch.as_tensor(logits)
        while tensor.dim() > 1:
            tensor = tensor[0]
        result: np.ndarray[Any, np.dtype[np.float32]] = (
            tensor.float().cpu().numpy().astype(np.float32)
        )
        return result

    def close(self) -> None:
        """Shuts the executor down (frees the engines and caches)."""
        self._runner.executor.shutdown()


def _token_id(tokenizer_json: Path, token: str) -> int:
    import tokenizers

    token_id = tokenizers.Tokenizer.from_file(str(tokenizer_json)).token_to_id(token)
    if token_id is None:
        raise ValueError(f"{tokenizer_json} has no {token} token")
    return int(token_id)
