import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Any as _containerd_services_events_v1_Any, Any__Output as _containerd_services_events_v1_Any__Output } from './containerd/services/events/v1/Any.ts';
import type { Empty as _containerd_services_events_v1_Empty, Empty__Output as _containerd_services_events_v1_Empty__Output } from './containerd/services/events/v1/Empty.ts';
import type { Envelope as _containerd_services_events_v1_Envelope, Envelope__Output as _containerd_services_events_v1_Envelope__Output } from './containerd/services/events/v1/Envelope.ts';
import type { EventsClient as _containerd_services_events_v1_EventsClient, EventsDefinition as _containerd_services_events_v1_EventsDefinition } from './containerd/services/events/v1/Events.ts';
import type { PublishRequest as _containerd_services_events_v1_PublishRequest, PublishRequest__Output as _containerd_services_events_v1_PublishRequest__Output } from './containerd/services/events/v1/PublishRequest.ts';
import type { SubscribeRequest as _containerd_services_events_v1_SubscribeRequest, SubscribeRequest__Output as _containerd_services_events_v1_SubscribeRequest__Output } from './containerd/services/events/v1/SubscribeRequest.ts';
import type { Timestamp as _containerd_services_events_v1_Timestamp, Timestamp__Output as _containerd_services_events_v1_Timestamp__Output } from './containerd/services/events/v1/Timestamp.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  containerd: {
    services: {
      events: {
        v1: {
          Any: MessageTypeDefinition<_containerd_services_events_v1_Any, _containerd_services_events_v1_Any__Output>
          Empty: MessageTypeDefinition<_containerd_services_events_v1_Empty, _containerd_services_events_v1_Empty__Output>
          Envelope: MessageTypeDefinition<_containerd_services_events_v1_Envelope, _containerd_services_events_v1_Envelope__Output>
          Events: SubtypeConstructor<typeof grpc.Client, _containerd_services_events_v1_EventsClient> & { service: _containerd_services_events_v1_EventsDefinition }
          PublishRequest: MessageTypeDefinition<_containerd_services_events_v1_PublishRequest, _containerd_services_events_v1_PublishRequest__Output>
          SubscribeRequest: MessageTypeDefinition<_containerd_services_events_v1_SubscribeRequest, _containerd_services_events_v1_SubscribeRequest__Output>
          Timestamp: MessageTypeDefinition<_containerd_services_events_v1_Timestamp, _containerd_services_events_v1_Timestamp__Output>
        }
      }
    }
  }
}

