// Original file: proto/kip/v1/agent.proto

import type { WatchEventKind as _kip_v1_WatchEventKind, WatchEventKind__Output as _kip_v1_WatchEventKind__Output } from '../../kip/v1/WatchEventKind.ts';
import type { Long } from '@grpc/proto-loader';

export interface WatchEvent {
  'sequence'?: (number | string | Long);
  'kind'?: (_kip_v1_WatchEventKind);
  'observedAtUnixMs'?: (number | string | Long);
  'podUid'?: (string);
  'podNamespace'?: (string);
  'podName'?: (string);
  'containerName'?: (string);
  'beforeId'?: (string);
  'afterId'?: (string);
  'beforeCreatedAtUnixNs'?: (string);
  'afterCreatedAtUnixNs'?: (string);
  'restarts'?: (number);
  'exitCode'?: (number);
  'reason'?: (string);
  'detail'?: (string);
}

export interface WatchEvent__Output {
  'sequence': (number);
  'kind': (_kip_v1_WatchEventKind__Output);
  'observedAtUnixMs': (number);
  'podUid': (string);
  'podNamespace': (string);
  'podName': (string);
  'containerName': (string);
  'beforeId': (string);
  'afterId': (string);
  'beforeCreatedAtUnixNs': (string);
  'afterCreatedAtUnixNs': (string);
  'restarts': (number);
  'exitCode': (number);
  'reason': (string);
  'detail': (string);
}
