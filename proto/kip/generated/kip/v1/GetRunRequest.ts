// Original file: proto/kip/v1/agent.proto


export interface GetRunRequest {
  'runId'?: (string);
}

export interface GetRunRequest__Output {
  'runId': (string);
}
