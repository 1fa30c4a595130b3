import { InvalidInputError } from '../../errors.ts';

/**
 * | code                        | meaning                                                         |
 * | --------------------------- | --------------------------------------------------------------- |
 * | COMPONENT_VERSION_INVALID   | text is not a Kubernetes version                                |
 * | COMPONENT_VERSION_SKEW      | more than one minor at once, or a downgrade                     |
 * | COMPONENT_UNKNOWN           | not one of the components kip knows                             |
 * | COMPONENT_FLAGS_REFUSED     | flags without a safe migration and no override                  |
 */
export class ComponentVersionInvalidError extends InvalidInputError {
  constructor(text: string) {
    super('COMPONENT_VERSION_INVALID', `not a Kubernetes version: ${JSON.stringify(text.slice(0, 100))} (give v1.NN.P or 1.NN)`, { text: text.slice(0, 100) });
  }
}

export class ComponentVersionSkewError extends InvalidInputError {
  constructor(component: string, from: string, to: string, why: string) {
    super('COMPONENT_VERSION_SKEW', `${component}: cannot go from ${from} to ${to}: ${why}`, { component, from, to });
  }
}

export class UnknownComponentError extends InvalidInputError {
  constructor(name: string, known: readonly string[]) {
    super('COMPONENT_UNKNOWN', `unknown component ${JSON.stringify(name)}: kip knows ${known.join(', ')}`, { name, known: [...known] });
  }
}

export interface ComponentFlagRefusal {
  readonly flag: string;
  readonly value: string | undefined;
  readonly reason: string;
  readonly citation: string;
  /** Pass this in `overrides` to drop the flag anyway. */
  readonly override: string;
}

export class ComponentFlagsRefusedError extends InvalidInputError {
  readonly refusals: readonly ComponentFlagRefusal[];
  constructor(component: string, to: string, refusals: readonly ComponentFlagRefusal[]) {
    const lines = refusals.map((r) => `  ${r.flag}${r.value !== undefined ? ` (value ${JSON.stringify(r.value)})` : ''}: ${r.reason} [${r.citation}] [override: ${r.override}]`);
    super('COMPONENT_FLAGS_REFUSED', `${component} ${to} cannot take the current flags without a decision from the operator; pass the listed overrides to drop them:\n${lines.join('\n')}`, {
      component,
      to,
      refusals: refusals.map((r) => ({ ...r })),
    });
    this.refusals = refusals;
  }
}
