import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type {
  EndTurn as _stt_v1_EndTurn,
  EndTurn__Output as _stt_v1_EndTurn__Output,
} from './stt/v1/EndTurn.js';
import type {
  GetWorkerInfoRequest as _stt_v1_GetWorkerInfoRequest,
  GetWorkerInfoRequest__Output as _stt_v1_GetWorkerInfoRequest__Output,
} from './stt/v1/GetWorkerInfoRequest.js';
import type {
  GetWorkerInfoResponse as _stt_v1_GetWorkerInfoResponse,
  GetWorkerInfoResponse__Output as _stt_v1_GetWorkerInfoResponse__Output,
} from './stt/v1/GetWorkerInfoResponse.js';
import type {
  ModelInfo as _stt_v1_ModelInfo,
  ModelInfo__Output as _stt_v1_ModelInfo__Output,
} from './stt/v1/ModelInfo.js';
import type {
  StreamingTranscribeConfig as _stt_v1_StreamingTranscribeConfig,
  StreamingTranscribeConfig__Output as _stt_v1_StreamingTranscribeConfig__Output,
} from './stt/v1/StreamingTranscribeConfig.js';
import type {
  StreamingTranscribeRequest as _stt_v1_StreamingTranscribeRequest,
  StreamingTranscribeRequest__Output as _stt_v1_StreamingTranscribeRequest__Output,
} from './stt/v1/StreamingTranscribeRequest.js';
import type {
  StreamingTranscribeResponse as _stt_v1_StreamingTranscribeResponse,
  StreamingTranscribeResponse__Output as _stt_v1_StreamingTranscribeResponse__Output,
} from './stt/v1/StreamingTranscribeResponse.js';
import type {
  TranscriberServiceClient as _stt_v1_TranscriberServiceClient,
  TranscriberServiceDefinition as _stt_v1_TranscriberServiceDefinition,
} from './stt/v1/TranscriberService.js';
import type {
  TranscriptResult as _stt_v1_TranscriptResult,
  TranscriptResult__Output as _stt_v1_TranscriptResult__Output,
} from './stt/v1/TranscriptResult.js';
import type {
  TranscriptionOptions as _stt_v1_TranscriptionOptions,
  TranscriptionOptions__Output as _stt_v1_TranscriptionOptions__Output,
} from './stt/v1/TranscriptionOptions.js';
import type {
  TranscriptionProgress as _stt_v1_TranscriptionProgress,
  TranscriptionProgress__Output as _stt_v1_TranscriptionProgress__Output,
} from './stt/v1/TranscriptionProgress.js';
import type {
  TranscriptionSummary as _stt_v1_TranscriptionSummary,
  TranscriptionSummary__Output as _stt_v1_TranscriptionSummary__Output,
} from './stt/v1/TranscriptionSummary.js';
import type {
  TurnConfig as _stt_v1_TurnConfig,
  TurnConfig__Output as _stt_v1_TurnConfig__Output,
} from './stt/v1/TurnConfig.js';
import type {
  TurnEnd as _stt_v1_TurnEnd,
  TurnEnd__Output as _stt_v1_TurnEnd__Output,
} from './stt/v1/TurnEnd.js';
import type {
  VadConfig as _stt_v1_VadConfig,
  VadConfig__Output as _stt_v1_VadConfig__Output,
} from './stt/v1/VadConfig.js';
import type {
  WordInfo as _stt_v1_WordInfo,
  WordInfo__Output as _stt_v1_WordInfo__Output,
} from './stt/v1/WordInfo.js';
import type {
  WorkerLoad as _stt_v1_WorkerLoad,
  WorkerLoad__Output as _stt_v1_WorkerLoad__Output,
} from './stt/v1/WorkerLoad.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new (...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  stt: {
    v1: {
      AudioEncoding: EnumTypeDefinition;
      EndTurn: MessageTypeDefinition<_stt_v1_EndTurn, _stt_v1_EndTurn__Output>;
      GetWorkerInfoRequest: MessageTypeDefinition<
        _stt_v1_GetWorkerInfoRequest,
        _stt_v1_GetWorkerInfoRequest__Output
      >;
      GetWorkerInfoResponse: MessageTypeDefinition<
        _stt_v1_GetWorkerInfoResponse,
        _stt_v1_GetWorkerInfoResponse__Output
      >;
      ModelInfo: MessageTypeDefinition<_stt_v1_ModelInfo, _stt_v1_ModelInfo__Output>;
      SpeechEvent: EnumTypeDefinition;
      StreamingTranscribeConfig: MessageTypeDefinition<
        _stt_v1_StreamingTranscribeConfig,
        _stt_v1_StreamingTranscribeConfig__Output
      >;
      StreamingTranscribeRequest: MessageTypeDefinition<
        _stt_v1_StreamingTranscribeRequest,
        _stt_v1_StreamingTranscribeRequest__Output
      >;
      StreamingTranscribeResponse: MessageTypeDefinition<
        _stt_v1_StreamingTranscribeResponse,
        _stt_v1_StreamingTranscribeResponse__Output
      >;
      Task: EnumTypeDefinition;
      TranscriberService: SubtypeConstructor<
        typeof grpc.Client,
        _stt_v1_TranscriberServiceClient
      > & { service: _stt_v1_TranscriberServiceDefinition };
      TranscriptResult: MessageTypeDefinition<
        _stt_v1_TranscriptResult,
        _stt_v1_TranscriptResult__Output
      >;
      TranscriptionMode: EnumTypeDefinition;
      TranscriptionOptions: MessageTypeDefinition<
        _stt_v1_TranscriptionOptions,
        _stt_v1_TranscriptionOptions__Output
      >;
      TranscriptionProgress: MessageTypeDefinition<
        _stt_v1_TranscriptionProgress,
        _stt_v1_TranscriptionProgress__Output
      >;
      TranscriptionSummary: MessageTypeDefinition<
        _stt_v1_TranscriptionSummary,
        _stt_v1_TranscriptionSummary__Output
      >;
      TurnConfig: MessageTypeDefinition<_stt_v1_TurnConfig, _stt_v1_TurnConfig__Output>;
      TurnEnd: MessageTypeDefinition<_stt_v1_TurnEnd, _stt_v1_TurnEnd__Output>;
      TurnEndReason: EnumTypeDefinition;
      VadConfig: MessageTypeDefinition<_stt_v1_VadConfig, _stt_v1_VadConfig__Output>;
      WordInfo: MessageTypeDefinition<_stt_v1_WordInfo, _stt_v1_WordInfo__Output>;
      WorkerLoad: MessageTypeDefinition<_stt_v1_WorkerLoad, _stt_v1_WorkerLoad__Output>;
    };
  };
}
