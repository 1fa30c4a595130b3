// Original file: proto/containerd/events.proto


export interface Empty {
}

export interface Empty__Output {
}
