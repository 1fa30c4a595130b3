// Original file: proto/kip/v1/agent.proto


export interface VersionHash {
  'kubeVersion'?: (string);
  'hash'?: (string);
}

export interface VersionHash__Output {
  'kubeVersion': (string);
  'hash': (string);
}
