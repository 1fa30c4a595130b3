/**
 * One upgrade step of a static pod manifest (pure): the new image tag and the component's flags
 * migrated by lib/knowledge/flags, written back into the manifest text. Refuses (and changes
 * nothing) when the manifest does not parse, the step skips a minor, or a flag has no safe
 * replacement without an override.
 */
import { planComponentFlagMigration, type ComponentFlagPlan } from '../../lib/knowledge/flags/index.ts';
import { ManifestInvalidError } from './errors.ts';
import { parseStaticPodManifest, rewriteStaticPodManifest } from './manifest.ts';
import { withImageTag } from './version.ts';

export interface ManifestStepInput {
  readonly text: string;
  readonly path: string;
  readonly component: string;
  /** e.g. v1.13.12: becomes the image tag. */
  readonly to: string;
  readonly overrides?: readonly string[];
  readonly keepServedApis?: boolean;
}

export interface ManifestStep {
  readonly from: string;
  readonly to: string;
  readonly image: string;
  readonly text: string;
  readonly flags: ComponentFlagPlan;
}

export function planManifestStep(input: ManifestStepInput): ManifestStep {
  const m = parseStaticPodManifest(input.text, input.path, input.component);
  if (m.version === '') throw new ManifestInvalidError(input.path, `the image ${m.image} has no version tag, so the running version is unknown`);
  const flags = planComponentFlagMigration({ component: input.component, from: m.version, to: input.to, args: m.args, overrides: input.overrides, keepServedApis: input.keepServedApis });
  const image = withImageTag(m.image, input.to.startsWith('v') ? input.to : `v${input.to}`);
  const text = rewriteStaticPodManifest(input.text, input.path, input.component, { image, ...(flags.changed ? { args: flags.args } : {}) });
  return { from: m.version, to: input.to, image, text, flags };
}
