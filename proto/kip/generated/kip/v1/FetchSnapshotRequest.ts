// Original file: proto/kip/v1/agent.proto


export interface FetchSnapshotRequest {
  'id'?: (string);
}

export interface FetchSnapshotRequest__Output {
  'id': (string);
}
