// Original file: proto/kip/v1/agent.proto

import type { EtcdSnapshotInfo as _kip_v1_EtcdSnapshotInfo, EtcdSnapshotInfo__Output as _kip_v1_EtcdSnapshotInfo__Output } from '../../kip/v1/EtcdSnapshotInfo.ts';

export interface SnapshotChunk {
  'info'?: (_kip_v1_EtcdSnapshotInfo | null);
  'data'?: (Buffer | Uint8Array | string);
  'payload'?: "info"|"data";
}

export interface SnapshotChunk__Output {
  'info'?: (_kip_v1_EtcdSnapshotInfo__Output | null);
  'data'?: (Buffer);
  'payload'?: "info"|"data";
}
