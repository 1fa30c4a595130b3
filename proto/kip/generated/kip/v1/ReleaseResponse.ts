// Original file: proto/kip/v1/agent.proto


export interface ReleaseResponse {
  'component'?: (string);
  'changed'?: (boolean);
  'started'?: (boolean);
}

export interface ReleaseResponse__Output {
  'component': (string);
  'changed': (boolean);
  'started': (boolean);
}
