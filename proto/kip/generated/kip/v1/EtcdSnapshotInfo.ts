// Original file: proto/kip/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface EtcdSnapshotInfo {
  'id'?: (string);
  'endpoint'?: (string);
  'sizeBytes'?: (number | string | Long);
  'sha256'?: (string);
  'etcdHash'?: (number | string | Long);
  'revision'?: (number | string | Long);
  'totalKeys'?: (number | string | Long);
  'totalSize'?: (number | string | Long);
  'createdAtUnixMs'?: (number | string | Long);
  'durationMs'?: (number | string | Long);
}

export interface EtcdSnapshotInfo__Output {
  'id': (string);
  'endpoint': (string);
  'sizeBytes': (number);
  'sha256': (string);
  'etcdHash': (number);
  'revision': (number);
  'totalKeys': (number);
  'totalSize': (number);
  'createdAtUnixMs': (number);
  'durationMs': (number);
}
