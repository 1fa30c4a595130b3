/**
 * `kip preflight [--to VERSION]`: the cluster checks (coordinator/preflight/rules.ts) and, with
 * --to, every agent's own Preflight for its next kubelet version and the expiry of every agent's
 * certificate and the coordinator's own (coordinator/preflight/certs.ts), as one table (or -o json|yaml).
 * `--fix node-labels` restores the labels pods' nodeSelectors need (the only fix it applies);
 * with --dry-run it says what it would do. Exit 0 when nothing is an error, 1 otherwise.
 */
import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/errors.ts';
import { apiserverVersionsForPlan } from '../plan/ha-apiservers.ts';
import { planVersions } from '../plan/path.ts';
import { clusterFindings, type Finding } from '../preflight/rules.ts';
import { predictedRestartFindings, removedApiFindings } from '../preflight/plan-findings.ts';
import { AGENT_CERT_FIX, certFindings, COORDINATOR_CERT_FIX, pemNotAfterMs, type CertExpiry } from '../preflight/certs.ts';
import { join } from 'node:path';
import { EXIT_FAILED, EXIT_OK } from '../io.ts';
import { addAgentOptions, addColor, addDryRun, addKubeOptions, addOutput, addStateDir, formatTable, kubeOptions, paint, render, runAction, stateDirOf, useColor, type CommandContext, type OutputFormat } from './common.ts';
import { closeFleet, connectFleet, type AgentFlags } from './fleet-setup.ts';
import { nodeKubelets } from './plan.ts';

const FIXES = ['node-labels'] as const;

interface PreflightFlags extends AgentFlags {
  to?: string;
  fix: string[];
  dryRun: boolean;
  output: OutputFormat;
  color?: boolean;
  kubeconfig?: string;
  context?: string;
}

export function registerPreflight(program: Command, ctx: CommandContext): void {
  const cmd = program.command('preflight').description('cluster and agent checks before an upgrade, each with why and the fix')
    .option('--to <version>', 'also ask every agent to check its next kubelet version')
    .option('--fix <name>', `apply a safe fix (${FIXES.join(', ')}; repeatable)`, (v: string, prev: string[]) => [...prev, v], [] as string[]);
  for (const add of [addKubeOptions, addAgentOptions, addStateDir, addOutput, addColor, addDryRun]) add(cmd);
  cmd.action((opts: PreflightFlags) => runAction(ctx, 'preflight', async () => {
    const unknown = opts.fix.filter((f) => !(FIXES as readonly string[]).includes(f));
    if (unknown.length > 0) throw new InvalidInputError('PREFLIGHT_UNKNOWN_FIX', `--fix ${unknown.join(', ')}: kip applies only these fixes: ${FIXES.join(', ')}`, { unknown });
    const cluster = await ctx.ports.cluster(kubeOptions(ctx.io, opts));
    const [nodes, pods] = await Promise.all([cluster.nodes(), cluster.pods()]);
    const findings: Finding[] = clusterFindings(nodes, pods);
    if (opts.to) {
      const plan = planVersions({ apiservers: await apiserverVersionsForPlan(cluster), nodes: nodeKubelets(nodes) }, opts.to);
      findings.push(...await removedApiFindings(plan, cluster.listServed), ...predictedRestartFindings(plan, await cluster.podTree()));
      const next = new Map<string, string>();
      for (const s of plan.plans['every-step'].steps) for (const h of s.kubelets) for (const n of h.nodes) if (!next.has(n)) next.set(n, h.to);
      const agents = await connectFleet(ctx, cluster, opts);
      const certs: CertExpiry[] = [];
      const own = pemNotAfterMs((await ctx.ports.agentTls(opts.pkiDir ?? join(stateDirOf(ctx.io, opts), 'pki'))).cert);
      if (own !== undefined) certs.push({ object: 'coordinator certificate (--pki-dir coordinator.crt)', notAfterMs: own, fix: COORDINATOR_CERT_FIX });
      try {
        // Every agent's certificate, whether or not its node has a step to take.
        await Promise.all([...agents].map(async ([node, agent]) => {
          const info = await agent.getNode().catch(() => undefined);
          if (info) certs.push({ object: `node ${node} (agent certificate)`, notAfterMs: Number(info.tlsCertNotAfterUnixMs), fix: AGENT_CERT_FIX });
        }));
        findings.push(...certFindings(certs.sort((a, b) => a.object.localeCompare(b.object)), ctx.ports.clock.now()));
        await Promise.all([...next].map(async ([node, version]) => {
          const agent = agents.get(node);
          if (!agent) {
            findings.push({ severity: 'error', check: 'agent', object: `node ${node}`, why: 'no agent endpoint (no InternalIP, not in --inventory)', fix: 'install kip-agent on it or add it to --inventory' });
            return;
          }
          if (version.endsWith('.x')) return;
          try {
            const report = await agent.preflight({ targetVersion: version });
            for (const c of report.checks) {
              if (c.status === 'CHECK_OK') continue;
              findings.push({ severity: c.status === 'CHECK_FAIL' ? 'error' : 'warning', check: `agent:${c.name}`, object: `node ${node} (kubelet ${report.currentVersion} -> ${version})`, why: c.message, fix: c.fix });
            }
          } catch (err) {
            findings.push({ severity: 'error', check: 'agent', object: `node ${node}`, why: `the agent does not answer: ${err instanceof Error ? err.message : String(err)}`, fix: 'check kip-agent on the node, --pki-dir and --inventory' });
          }
        }));
      } finally {
        closeFleet(agents);
      }
    }
    const applied: string[] = [];
    if (opts.fix.includes('node-labels')) {
      const byNode = new Map<string, Record<string, string>>();
      for (const f of findings) if (f.fixable?.name === 'node-labels') byNode.set(f.fixable.node, { ...(byNode.get(f.fixable.node) ?? {}), ...f.fixable.labels });
      for (const [node, labels] of byNode) {
        const what = `label node ${node} ${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(' ')}`;
        if (!opts.dryRun) await cluster.labelNode(node, labels);
        applied.push(opts.dryRun ? `would ${what}` : what);
      }
    }
    const remaining = opts.fix.includes('node-labels') && !opts.dryRun ? findings.filter((f) => f.fixable?.name !== 'node-labels') : findings;
    const errors = remaining.filter((f) => f.severity === 'error').length;
    const color = useColor(ctx.io, opts);
    render(ctx.io, opts.output, { ok: errors === 0, findings, fixed: applied }, () => {
      const rank = { error: 0, warning: 1, info: 2 };
      const rows = [...findings].sort((a, b) => rank[a.severity] - rank[b.severity]).map((f) => [paint(color, f.severity === 'error' ? 'red' : f.severity === 'warning' ? 'yellow' : 'bold', f.severity.toUpperCase()), f.check, f.object, f.why, f.fix]);
      const table = rows.length > 0 ? formatTable(['SEVERITY', 'CHECK', 'OBJECT', 'WHY', 'FIX'], rows) : 'no findings\n';
      return `${table}${applied.map((a) => `fixed: ${a}\n`).join('')}${errors === 0 ? 'preflight: ok\n' : `preflight: ${errors} error${errors > 1 ? 's' : ''}\n`}`;
    });
    return errors === 0 ? EXIT_OK : EXIT_FAILED;
  }));
}
