import { InvalidInputError, KipError } from '../../lib/errors.ts';

/**
 * Errors raised by the kubelet knowledge and inspection module. Codes are stable (see lib/errors.ts);
 * version errors are lib/knowledge/version.ts's.
 *
 * | code                            | class                         | meaning                                             |
 * | ------------------------------- | ----------------------------- | --------------------------------------------------- |
 * | KUBELET_UNIT_INVALID            | KubeletUnitInvalidError       | unit files give no usable ExecStart                 |
 * | KUBELET_ENV_FILE_MISSING        | KubeletEnvFileMissingError    | a required EnvironmentFile= was not supplied        |
 * | KUBELET_FLAG_SOURCE_UNEDITABLE  | KubeletFlagSourceError        | a flag to change comes from a place we cannot edit  |
 * | KUBELET_FLAGS_REFUSED           | KubeletFlagMigrationRefusedError | flags without a safe migration, no override     |
 * | KUBELET_BINARY_VERSION_FAILED   | KubeletBinaryVersionError     | `kubelet --version` failed, timed out or was unparsable |
 * | KUBELET_BINARY_UNREADABLE       | KubeletBinaryReadError        | the binary could not be opened or read              |
 */

export class KubeletUnitInvalidError extends InvalidInputError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('KUBELET_UNIT_INVALID', message, details);
  }
}

export class KubeletEnvFileMissingError extends InvalidInputError {
  constructor(path: string, unit: string) {
    super('KUBELET_ENV_FILE_MISSING', `EnvironmentFile=${path} (in ${unit}) is required by the unit but its content was not supplied`, { path, unit });
  }
}

export class KubeletFlagSourceError extends KipError {
  constructor(flag: string, where: string, why: string) {
    super('KUBELET_FLAG_SOURCE_UNEDITABLE', `cannot rewrite ${flag} automatically (${where}): ${why}; edit it by hand`, { flag, where, why });
  }
}

/** One flag (or feature gate, node label, unknown flag) that has no safe automatic migration. */
export interface FlagRefusal {
  /** What is refused, e.g. `--cadvisor-port`, `--feature-gates=Accelerators`, `--node-labels=node-role.kubernetes.io/master`. */
  readonly subject: string;
  /** The effective value found, if any. */
  readonly value: string | undefined;
  readonly reason: string;
  /** Changelog citation, when the refusal comes from the knowledge tables. */
  readonly citation: string | undefined;
  /** The string to put in `overrides` to accept dropping it. */
  readonly override: string;
}

export class KubeletFlagMigrationRefusedError extends InvalidInputError {
  readonly refusals: readonly FlagRefusal[];
  constructor(to: string, refusals: readonly FlagRefusal[]) {
    const lines = refusals.map((r) => `  ${r.subject}${r.value !== undefined ? ` (value ${JSON.stringify(r.value)})` : ''}: ${r.reason} [override: ${r.override}]`);
    super(
      'KUBELET_FLAGS_REFUSED',
      `kubelet ${to} cannot take the current flags without a decision from the operator; ` +
        `pass the listed overrides to drop them:\n${lines.join('\n')}`,
      { to, refusals: refusals.map((r) => ({ ...r })) },
    );
    this.refusals = refusals;
  }
}

export class KubeletBinaryVersionError extends KipError {
  constructor(path: string, why: string, details: Record<string, unknown> = {}) {
    super('KUBELET_BINARY_VERSION_FAILED', `${path} --version: ${why}`, { path, ...details });
  }
}

export class KubeletBinaryReadError extends KipError {
  constructor(path: string, cause: unknown) {
    super('KUBELET_BINARY_UNREADABLE', `cannot read ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { path }, { cause });
  }
}
