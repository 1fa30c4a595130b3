// Original file: proto/kip/v1/agent.proto


export interface RemoveStagedRequest {
  'version'?: (string);
}

export interface RemoveStagedRequest__Output {
  'version': (string);
}
