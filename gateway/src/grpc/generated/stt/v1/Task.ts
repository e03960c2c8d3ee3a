// Original file: proto/stt/v1/transcriber.proto

export const Task = {
  TASK_UNSPECIFIED: 'TASK_UNSPECIFIED',
  TASK_TRANSCRIBE: 'TASK_TRANSCRIBE',
  TASK_TRANSLATE: 'TASK_TRANSLATE',
} as const;

export type Task = 'TASK_UNSPECIFIED' | 0 | 'TASK_TRANSCRIBE' | 1 | 'TASK_TRANSLATE' | 2;

export type Task__Output = (typeof Task)[keyof typeof Task];
