// Original file: proto/stt/v1/transcriber.proto

import type * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import type {
  GetWorkerInfoRequest as _stt_v1_GetWorkerInfoRequest,
  GetWorkerInfoRequest__Output as _stt_v1_GetWorkerInfoRequest__Output,
} from '../../stt/v1/GetWorkerInfoRequest.js';
import type {
  GetWorkerInfoResponse as _stt_v1_GetWorkerInfoResponse,
  GetWorkerInfoResponse__Output as _stt_v1_GetWorkerInfoResponse__Output,
} from '../../stt/v1/GetWorkerInfoResponse.js';
import type {
  StreamingTranscribeRequest as _stt_v1_StreamingTranscribeRequest,
  StreamingTranscribeRequest__Output as _stt_v1_StreamingTranscribeRequest__Output,
} from '../../stt/v1/StreamingTranscribeRequest.js';
import type {
  StreamingTranscribeResponse as _stt_v1_StreamingTranscribeResponse,
  StreamingTranscribeResponse__Output as _stt_v1_StreamingTranscribeResponse__Output,
} from '../../stt/v1/StreamingTranscribeResponse.js';

export interface TranscriberServiceClient extends grpc.Client {
  GetWorkerInfo(
    argument: _stt_v1_GetWorkerInfoRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_stt_v1_GetWorkerInfoResponse__Output>,
  ): grpc.ClientUnaryCall;
  GetWorkerInfo(
    argument: _stt_v1_GetWorkerInfoRequest,
    metadata: grpc.Metadata,
    callback: grpc.requestCallback<_stt_v1_GetWorkerInfoResponse__Output>,
  ): grpc.ClientUnaryCall;
  GetWorkerInfo(
    argument: _stt_v1_GetWorkerInfoRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_stt_v1_GetWorkerInfoResponse__Output>,
  ): grpc.ClientUnaryCall;
  GetWorkerInfo(
    argument: _stt_v1_GetWorkerInfoRequest,
    callback: grpc.requestCallback<_stt_v1_GetWorkerInfoResponse__Output>,
  ): grpc.ClientUnaryCall;
  getWorkerInfo(
    argument: _stt_v1_GetWorkerInfoRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_stt_v1_GetWorkerInfoResponse__Output>,
  ): grpc.ClientUnaryCall;
  getWorkerInfo(
    argument: _stt_v1_GetWorkerInfoRequest,
    metadata: grpc.Metadata,
    callback: grpc.requestCallback<_stt_v1_GetWorkerInfoResponse__Output>,
  ): grpc.ClientUnaryCall;
  getWorkerInfo(
    argument: _stt_v1_GetWorkerInfoRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_stt_v1_GetWorkerInfoResponse__Output>,
  ): grpc.ClientUnaryCall;
  getWorkerInfo(
    argument: _stt_v1_GetWorkerInfoRequest,
    callback: grpc.requestCallback<_stt_v1_GetWorkerInfoResponse__Output>,
  ): grpc.ClientUnaryCall;

  StreamingTranscribe(
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<
    _stt_v1_StreamingTranscribeRequest,
    _stt_v1_StreamingTranscribeResponse__Output
  >;
  StreamingTranscribe(
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<
    _stt_v1_StreamingTranscribeRequest,
    _stt_v1_StreamingTranscribeResponse__Output
  >;
  streamingTranscribe(
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<
    _stt_v1_StreamingTranscribeRequest,
    _stt_v1_StreamingTranscribeResponse__Output
  >;
  streamingTranscribe(
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<
    _stt_v1_StreamingTranscribeRequest,
    _stt_v1_StreamingTranscribeResponse__Output
  >;
}

export interface TranscriberServiceHandlers extends grpc.UntypedServiceImplementation {
  GetWorkerInfo: grpc.handleUnaryCall<
    _stt_v1_GetWorkerInfoRequest__Output,
    _stt_v1_GetWorkerInfoResponse
  >;

  StreamingTranscribe: grpc.handleBidiStreamingCall<
    _stt_v1_StreamingTranscribeRequest__Output,
    _stt_v1_StreamingTranscribeResponse
  >;
}

export interface TranscriberServiceDefinition extends grpc.ServiceDefinition {
  GetWorkerInfo: MethodDefinition<
    _stt_v1_GetWorkerInfoRequest,
    _stt_v1_GetWorkerInfoResponse,
    _stt_v1_GetWorkerInfoRequest__Output,
    _stt_v1_GetWorkerInfoResponse__Output
  >;
  StreamingTranscribe: MethodDefinition<
    _stt_v1_StreamingTranscribeRequest,
    _stt_v1_StreamingTranscribeResponse,
    _stt_v1_StreamingTranscribeRequest__Output,
    _stt_v1_StreamingTranscribeResponse__Output
  >;
}
