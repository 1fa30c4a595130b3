// Original file: proto/containerd/events.proto

import type { Any as _containerd_services_events_v1_Any, Any__Output as _containerd_services_events_v1_Any__Output } from '../../../../containerd/services/events/v1/Any.ts';

export interface PublishRequest {
  'topic'?: (string);
  'event'?: (_containerd_services_events_v1_Any | null);
}

export interface PublishRequest__Output {
  'topic': (string);
  'event': (_containerd_services_events_v1_Any__Output | null);
}
