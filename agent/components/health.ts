import type { ComponentName, HealthProbe } from './types.ts';

/**
 * Default health probes per component and version (pure). Each default is the component's own
 * flag default at that version; the effective arguments override it (a --port=0 turns the
 * insecure port off, --secure-port moves the secure one), and the agent config overrides both.
 *
 * - kube-apiserver: https on --secure-port (default 6443), `/readyz` from 1.16 (the endpoint
 *   that turns unready during graceful shutdown, CHANGELOG-1.16.md v1.16.0-alpha.1, #74416),
 *   `/healthz` before.
 * - kube-controller-manager: the insecure --port (default 10252, ports.InsecureKubeControllerManagerPort)
 *   while it is on; otherwise https on --secure-port, default 10257 from 1.12 ("Secure serving on
 *   port 10257 ... Without configuration, the secure port will only allow access to /healthz",
 *   CHANGELOG-1.12.md v1.12.0 › New Features, #64149).
 * - kube-scheduler: the insecure --port (default 10251, ports.InsecureSchedulerPort) while it is
 *   on; otherwise https on --secure-port, default 10259 from 1.13 ("Added secure port 10259 to the
 *   kube-scheduler (enabled by default) and deprecate old insecure port 10251", CHANGELOG-1.13.md
 *   v1.13.0, #69663).
 * - kube-proxy: --healthz-bind-address (default 0.0.0.0:10256) `/healthz`.
 * - kubelet: the agent's healthzUrl (default http://127.0.0.1:10248/healthz), as for the kubelet swap.
 */

export interface HealthInput {
  readonly name: ComponentName;
  /** e.g. v1.15.3 or 1.15; unknown versions get the newest defaults kip knows. */
  readonly version: string;
  readonly args: readonly string[];
  readonly kubeletHealthzUrl: string;
}

/** The last value of a flag in pflag syntax (`--f=v` or `--f v`), or undefined. */
export function flagValue(args: readonly string[], flag: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const w = args[i] as string;
    if (w === '--') break;
    if (w === flag) {
      value = args[i + 1];
      i++;
    } else if (w.startsWith(`${flag}=`)) value = w.slice(flag.length + 1);
  }
  return value;
}

function minorOf(version: string): number | undefined {
  const m = /^v?1\.(\d+)/.exec(version.trim());
  return m ? Number(m[1]) : undefined;
}

function port(args: readonly string[], flag: string, dflt: number): number {
  const v = flagValue(args, flag);
  if (v === undefined || !/^\d+$/.test(v)) return dflt;
  return Number(v);
}

export function defaultHealthProbe(input: HealthInput): HealthProbe {
  const minor = minorOf(input.version) ?? 99;
  const a = input.args;
  switch (input.name) {
    case 'kubelet':
      return { url: input.kubeletHealthzUrl, insecureSkipVerify: false, source: 'agent healthzUrl' };
    case 'kube-apiserver': {
      const path = minor >= 16 ? '/readyz' : '/healthz';
      const p = port(a, '--secure-port', 6443);
      if (p === 0) {
        const ip = port(a, '--insecure-port', 8080);
        return { url: `http://127.0.0.1:${ip}${path}`, insecureSkipVerify: false, source: `kube-apiserver --secure-port=0: insecure port ${ip}` };
      }
      return { url: `https://127.0.0.1:${p}${path}`, insecureSkipVerify: true, source: `kube-apiserver ${minor >= 16 ? '1.16+ /readyz (#74416)' : '/healthz before 1.16'}, --secure-port ${p}` };
    }
    case 'kube-controller-manager':
    case 'kube-scheduler': {
      const cm = input.name === 'kube-controller-manager';
      const insecure = port(a, '--port', cm ? 10252 : 10251);
      const secureSince = cm ? 12 : 13;
      if (insecure === 0 && minor < secureSince) {
        return { url: '', insecureSkipVerify: false, source: `${input.name} --port=0 before 1.${secureSince}: no healthz endpoint (set healthUrl in the agent config)` };
      }
      if (insecure !== 0) {
        return { url: `http://127.0.0.1:${insecure}/healthz`, insecureSkipVerify: false, source: `${input.name} insecure --port ${insecure}` };
      }
      const secure = port(a, '--secure-port', cm ? 10257 : 10259);
      return { url: `https://127.0.0.1:${secure}/healthz`, insecureSkipVerify: true, source: `${input.name} --port=0: secure port ${secure} (${cm ? '#64149, 1.12' : '#69663, 1.13'})` };
    }
    case 'kube-proxy': {
      const bind = flagValue(a, '--healthz-bind-address') ?? '0.0.0.0:10256';
      const m = /:(\d+)$/.exec(bind);
      const p = m ? Number(m[1]) : 10256;
      const host = bind.replace(/:\d+$/, '');
      const h = host === '' || host === '0.0.0.0' || host === '::' || host === '[::]' ? '127.0.0.1' : host;
      return { url: `http://${h}:${p}/healthz`, insecureSkipVerify: false, source: `kube-proxy --healthz-bind-address ${bind}` };
    }
  }
}
