// Original file: proto/stt/v1/transcriber.proto

export interface GetWorkerInfoRequest {}

export interface GetWorkerInfoRequest__Output {}
