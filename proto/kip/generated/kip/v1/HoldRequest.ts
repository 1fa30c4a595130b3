// Original file: proto/kip/v1/agent.proto


export interface HoldRequest {
  'component'?: (string);
}

export interface HoldRequest__Output {
  'component': (string);
}
