// Original file: proto/kip/v1/agent.proto


export interface EtcdSnapshotRequest {
  'endpoint'?: (string);
}

export interface EtcdSnapshotRequest__Output {
  'endpoint': (string);
}
