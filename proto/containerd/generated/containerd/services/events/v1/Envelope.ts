// Original file: proto/containerd/events.proto

import type { Timestamp as _containerd_services_events_v1_Timestamp, Timestamp__Output as _containerd_services_events_v1_Timestamp__Output } from '../../../../containerd/services/events/v1/Timestamp.ts';
import type { Any as _containerd_services_events_v1_Any, Any__Output as _containerd_services_events_v1_Any__Output } from '../../../../containerd/services/events/v1/Any.ts';

export interface Envelope {
  'timestamp'?: (_containerd_services_events_v1_Timestamp | null);
  'namespace'?: (string);
  'topic'?: (string);
  'event'?: (_containerd_services_events_v1_Any | null);
}

export interface Envelope__Output {
  'timestamp': (_containerd_services_events_v1_Timestamp__Output | null);
  'namespace': (string);
  'topic': (string);
  'event': (_containerd_services_events_v1_Any__Output | null);
}
