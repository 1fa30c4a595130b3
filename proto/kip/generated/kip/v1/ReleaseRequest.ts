// Original file: proto/kip/v1/agent.proto


export interface ReleaseRequest {
  'component'?: (string);
}

export interface ReleaseRequest__Output {
  'component': (string);
}
