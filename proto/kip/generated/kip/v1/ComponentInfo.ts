// Original file: proto/kip/v1/agent.proto


export interface ComponentInfo {
  'name'?: (string);
  'runtime'?: (string);
  'unit'?: (string);
  'binary'?: (string);
  'manifest'?: (string);
  'image'?: (string);
  'version'?: (string);
  'healthUrl'?: (string);
  'healthSource'?: (string);
  'origin'?: (string);
  'held'?: (boolean);
  'holdPhase'?: (string);
}

export interface ComponentInfo__Output {
  'name': (string);
  'runtime': (string);
  'unit': (string);
  'binary': (string);
  'manifest': (string);
  'image': (string);
  'version': (string);
  'healthUrl': (string);
  'healthSource': (string);
  'origin': (string);
  'held': (boolean);
  'holdPhase': (string);
}
