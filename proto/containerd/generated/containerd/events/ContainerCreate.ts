// Original file: proto/containerd/event-types.proto


export interface ContainerCreate {
  'id'?: (string);
  'image'?: (string);
}

export interface ContainerCreate__Output {
  'id': (string);
  'image': (string);
}
