// Original file: proto/containerd/events.proto


export interface Any {
  'typeUrl'?: (string);
  'value'?: (Buffer | Uint8Array | string);
}

export interface Any__Output {
  'typeUrl': (string);
  'value': (Buffer);
}
