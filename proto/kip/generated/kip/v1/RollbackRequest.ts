// Original file: proto/kip/v1/agent.proto


export interface RollbackRequest {
  'runId'?: (string);
}

export interface RollbackRequest__Output {
  'runId': (string);
}
