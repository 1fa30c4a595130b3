/**
 * The agent config's `components` entries (pure): one string per component, so the option works
 * the same in agent.yaml, the environment and flags.
 *
 *   kube-scheduler=unit:kube-scheduler.service:/usr/local/bin/kube-scheduler
 *   kube-apiserver=manifest:/etc/kubernetes/manifests/kube-apiserver.yaml
 *   kube-controller-manager=unit:kcm.service:/usr/bin/kube-controller-manager@https://127.0.0.1:10257/healthz
 *
 * A trailing `@<url>` sets the health probe (https probes skip certificate verification: they
 * are loopback probes of self-signed serving certificates).
 */
import { ComponentConfigInvalidError } from './errors.ts';
import { COMPONENT_NAMES, isComponentName, type ComponentConfig } from './types.ts';

export function parseComponentSpec(spec: string): ComponentConfig {
  const s = spec.trim();
  const eq = s.indexOf('=');
  const name = eq < 0 ? s : s.slice(0, eq);
  if (!isComponentName(name)) throw new ComponentConfigInvalidError(`components: ${JSON.stringify(s)} does not start with a component name (${COMPONENT_NAMES.join(', ')})`, { spec: s });
  let rest = eq < 0 ? '' : s.slice(eq + 1);
  let healthUrl: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    healthUrl = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^https?:\/\/[^/\s]+\/\S*$/.test(healthUrl)) throw new ComponentConfigInvalidError(`components: ${name}: health URL ${JSON.stringify(healthUrl)} is not an http(s) URL`, { spec: s });
  }
  const health = healthUrl !== undefined ? { healthUrl, insecureSkipVerify: healthUrl.startsWith('https:') } : {};
  const m = /^unit:([A-Za-z0-9:_.@-]+\.service):(\/\S+)$/.exec(rest);
  if (m) return { name, unit: m[1] as string, binary: m[2] as string, ...health };
  const p = /^manifest:(\/\S+\.ya?ml)$/.exec(rest);
  if (p) return { name, manifest: p[1] as string, ...health };
  throw new ComponentConfigInvalidError(`components: ${JSON.stringify(s)}: write ${name}=unit:<name>.service:/path/to/binary or ${name}=manifest:/path/to/manifest.yaml (optionally @<health URL>)`, { spec: s });
}
