// Original file: proto/stt/v1/transcriber.proto

export interface EndTurn {}

export interface EndTurn__Output {}
