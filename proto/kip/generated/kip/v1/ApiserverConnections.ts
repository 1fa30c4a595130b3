// Original file: proto/kip/v1/agent.proto


export interface ApiserverConnections {
  'endpoint'?: (string);
  'established'?: (number);
}

export interface ApiserverConnections__Output {
  'endpoint': (string);
  'established': (number);
}
