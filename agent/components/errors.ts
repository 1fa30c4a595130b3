import { InvalidInputError, KipError } from '../../lib/errors.ts';
import { NotFoundError, PreconditionError } from '../upgrade/errors.ts';

/**
 * | code                          | meaning                                                          |
 * | ----------------------------- | ---------------------------------------------------------------- |
 * | COMPONENT_UNKNOWN             | not a component name kip knows                                   |
 * | COMPONENT_NOT_ON_NODE         | the node does not run this component                             |
 * | COMPONENT_CONFIG_INVALID      | the agent config names a component wrongly                       |
 * | MANIFEST_INVALID              | a static pod manifest does not parse or is not a Pod             |
 * | MANIFEST_WRITE_FAILED         | the manifest could not be written (nothing changed)              |
 * | STATIC_POD_NOT_RUNNING        | the kubelet did not run the new container in time                |
 * | HOLD_REFUSED                  | hold/release refused (the kubelet, a component not on the node)  |
 * | HOLD_FAILED                   | a hold/release step failed; the journal says where               |
 * | ETCD_TARGET_INVALID           | no endpoint, or an incomplete/unreadable set of client certs     |
 * | ETCD_SNAPSHOT_UNREACHABLE     | etcd did not answer (down, wrong endpoint)                       |
 * | ETCD_SNAPSHOT_TLS             | etcd refused the client certificates (or we refused its)         |
 * | ETCD_SNAPSHOT_NO_SPACE        | the state dir's file system is full                              |
 * | ETCD_SNAPSHOT_FAILED          | etcdctl failed otherwise (stderr in details)                     |
 * | ETCD_SNAPSHOT_VERIFY_FAILED   | `snapshot status` refused the file                               |
 * | ETCD_SNAPSHOT_NOT_FOUND       | no snapshot with that id                                         |
 */

export class UnknownComponentNameError extends InvalidInputError {
  constructor(name: string, known: readonly string[]) {
    super('COMPONENT_UNKNOWN', `unknown component ${JSON.stringify(name)}: kip knows ${known.join(', ')}`, { name, known: [...known] });
  }
}

/** gRPC: NOT_FOUND. */
export class ComponentNotOnNodeError extends NotFoundError {
  constructor(name: string, found: readonly string[]) {
    super('COMPONENT_NOT_ON_NODE', `this node does not run ${name} (found: ${found.length > 0 ? found.join(', ') : 'none'}); name it in the agent config (components:) if discovery missed it`, { name, found: [...found] });
  }
}

export class ComponentConfigInvalidError extends InvalidInputError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('COMPONENT_CONFIG_INVALID', message, details);
  }
}

export class ManifestInvalidError extends InvalidInputError {
  constructor(path: string, problem: string) {
    super('MANIFEST_INVALID', `static pod manifest ${path}: ${problem}; fix the file (nothing was changed)`, { path, problem });
  }
}

export class ManifestWriteError extends KipError {
  constructor(path: string, cause: unknown) {
    super('MANIFEST_WRITE_FAILED', `cannot write ${path}: ${cause instanceof Error ? cause.message : String(cause)} (the old manifest is still in place)`, { path }, { cause });
  }
}

export class StaticPodNotRunningError extends KipError {
  constructor(component: string, image: string, waitedMs: number, seen: string) {
    super('STATIC_POD_NOT_RUNNING', `the kubelet did not run ${component} with image ${image} within ${waitedMs} ms (${seen})`, { component, image, waitedMs });
  }
}

export class HoldRefusedError extends InvalidInputError {
  constructor(component: string, why: string) {
    super('HOLD_REFUSED', `cannot hold or release ${component}: ${why}`, { component });
  }
}

export class HoldFailedError extends KipError {
  constructor(component: string, step: string, cause: unknown) {
    super('HOLD_FAILED', `${component}: ${step} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { component, step }, { cause });
  }
}

export class EtcdTargetInvalidError extends InvalidInputError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('ETCD_TARGET_INVALID', message, details);
  }
}

/** etcd could not be snapshotted in its present state; nothing was kept. gRPC: FAILED_PRECONDITION. */
export class EtcdSnapshotError extends PreconditionError {
  constructor(code: 'ETCD_SNAPSHOT_UNREACHABLE' | 'ETCD_SNAPSHOT_TLS' | 'ETCD_SNAPSHOT_NO_SPACE' | 'ETCD_SNAPSHOT_FAILED' | 'ETCD_SNAPSHOT_VERIFY_FAILED', message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
  }
}

export class EtcdSnapshotNotFoundError extends NotFoundError {
  constructor(id: string) {
    super('ETCD_SNAPSHOT_NOT_FOUND', `no etcd snapshot ${JSON.stringify(id)} on this node (see GetNode's snapshot list)`, { id });
  }
}
