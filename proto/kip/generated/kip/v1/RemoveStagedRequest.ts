// Original file: proto/kip/v1/agent.proto


export interface RemoveStagedRequest {
  'version'?: (string);
  'component'?: (string);
}

export interface RemoveStagedRequest__Output {
  'version': (string);
  'component': (string);
}
