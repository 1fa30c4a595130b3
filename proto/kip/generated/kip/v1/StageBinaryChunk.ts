// Original file: proto/kip/v1/agent.proto

import type { StageBinaryMetadata as _kip_v1_StageBinaryMetadata, StageBinaryMetadata__Output as _kip_v1_StageBinaryMetadata__Output } from '../../kip/v1/StageBinaryMetadata.ts';

export interface StageBinaryChunk {
  'metadata'?: (_kip_v1_StageBinaryMetadata | null);
  'data'?: (Buffer | Uint8Array | string);
  'payload'?: "metadata"|"data";
}

export interface StageBinaryChunk__Output {
  'metadata'?: (_kip_v1_StageBinaryMetadata__Output | null);
  'data'?: (Buffer);
  'payload'?: "metadata"|"data";
}
