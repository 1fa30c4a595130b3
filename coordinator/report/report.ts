/**
 * The run as a report, pure: a model from the journal, rendered as Markdown and as one
 * self-contained HTML page (inline CSS and SVG, no external resource) with a per-node timeline:
 * one row per node, one bar per kubelet step coloured by outcome, gate events marked.
 */
import type { RunSpec } from '../rollout/spec.ts';
import type { ActionRecord, ConnectionRecord, EventRecord, NodeRecord, RunRecord } from '../store/store.ts';
import { CP_HEADER, RESTARTS_HEADER, controlPlaneRows, nodeRestarts, restartRows } from './control-plane.ts';
import { stepConnectionReport } from '../eyes/step-connections.ts';

export interface ReportModel {
  readonly run: RunRecord;
  readonly spec: RunSpec;
  readonly nodes: readonly NodeRecord[];
  readonly events: readonly EventRecord[];
  /** The journal's actions (control-plane actions and kubelet node attempts); absent: those sections are left out. */
  readonly actions?: readonly ActionRecord[];
  /** The kubelets' apiserver connections the engine recorded before and after each node's step. */
  readonly connections?: readonly ConnectionRecord[];
}

const count = (n: number | undefined): string => (n === undefined ? '-' : String(n));

/** Rows step/node/before/after and a WARNING line per step that multiplied them (PR #95427 / #105490). */
function connectionSection(m: ReportModel): { header: string[]; rows: string[][]; warnings: string[] } | undefined {
  const records = m.connections ?? [];
  if (records.length === 0) return undefined;
  const r = stepConnectionReport(records);
  const stepTo = (i: number): string => m.spec.steps.find((s) => s.index === i)?.to ?? '?';
  return {
    header: ['Step', 'Node', 'Before the step', 'After'],
    rows: r.rows.map((x) => [`${x.step + 1} (-> ${stepTo(x.step)})`, x.node, count(x.before), count(x.after)]),
    warnings: r.warnings.map((w) => `WARNING step ${w.step + 1} (-> ${stepTo(w.step)}) ${w.object}: ${w.before} -> ${w.now} apiserver connections: ${w.message}`),
  };
}

const secs = (ms: number | null | undefined): string => (ms === null || ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
const iso = (ms: number): string => new Date(ms).toISOString();
const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const mdCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function nodeNames(m: ReportModel): string[] {
  return [...new Set(m.spec.steps.flatMap((s) => s.nodes.map((n) => n.name)))].sort();
}

function rows(m: ReportModel): string[][] {
  const restarted = nodeRestarts(m.actions ?? []);
  return m.spec.steps.flatMap((s) => s.nodes.map((n) => {
    const r = m.nodes.find((x) => x.step === s.index && x.node === n.name);
    const p = m.spec.predictedRestarts?.find((x) => x.step === s.index)?.nodes?.[n.name];
    return [
      String(s.index + 1), n.name, `${n.from} -> ${s.to}`, r?.phase ?? 'pending', String(r?.attempt ?? 0), secs(r?.startedAt && r.finishedAt ? r.finishedAt - r.startedAt : null), secs(r?.downtimeMs),
      count(restarted.get(`${s.index}/${n.name}`)), p ? `${p.wouldRestart} of ${p.containers}` : '-', r?.error ?? '',
    ];
  }));
}

const HEADER = ['Step', 'Node', 'Kubelet', 'State', 'Attempt', 'Duration', 'Kubelet down', 'Restarted', 'Unpatched kubelet would restart', 'Error'];

const mdTable = (header: readonly string[], body: readonly (readonly string[])[]): string[] =>
  [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...body.map((r) => `| ${r.map(mdCell).join(' | ')} |`)];

export function markdownReport(m: ReportModel): string {
  const { run, spec } = m;
  const lines = [
    `# kip run ${run.id}`, '',
    `- cluster: ${run.cluster}`, `- target: ${run.target} (plan ${spec.plan}, max concurrency ${spec.maxConcurrency}, max unavailable ${spec.maxUnavailable})`,
    `- state: **${run.phase}**${run.reason ? ` — ${run.reason}` : ''}`, `- started ${iso(run.createdAt)}, last change ${iso(run.updatedAt)} (${secs(run.updatedAt - run.createdAt)})`, '',
    '## Plan', '', ...spec.steps.map((s) => `${s.index + 1}. kubelets of ${s.nodes.map((n) => n.name).join(', ')} -> ${s.to}`), '',
    ...(m.actions ? [
      '## Control plane', '', ...mdTable(CP_HEADER, controlPlaneRows(spec, m.actions).map((r) => r.cells)), '',
      '## Restarts per step', '', ...mdTable(RESTARTS_HEADER, restartRows(spec, m.actions)), '',
    ] : []),
    '## Nodes', '', ...mdTable(HEADER, rows(m)), '',
    ...connectionsMarkdown(m),
    '## Events', '', ...(m.events.length === 0 ? ['none'] : m.events.map((e) => `- ${iso(e.at)} **${e.kind}**${e.node ? ` ${e.node}` : ''}: ${mdCell(e.message)}`)), '',
  ];
  return lines.join('\n');
}

function connectionsMarkdown(m: ReportModel): string[] {
  const c = connectionSection(m);
  if (!c) return [];
  return ['## Kubelet apiserver connections', '', ...mdTable(c.header, c.rows), '', ...c.warnings.map((w) => `- **${mdCell(w)}**`), ...(c.warnings.length > 0 ? [''] : [])];
}

function connectionsHtml(m: ReportModel): string {
  const c = connectionSection(m);
  if (!c) return '';
  const table = `<table class="connections"><thead><tr>${c.header.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${c.rows.map((r) => `<tr>${r.map((x) => `<td>${esc(x)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  return `\n<h2>Kubelet apiserver connections</h2>${table}${c.warnings.map((w) => `<p class="warning"><b>${esc(w)}</b></p>`).join('')}`;
}

const COLORS: Readonly<Record<string, string>> = { succeeded: '#2e7d32', failed: '#c62828', upgrading: '#f9a825', 'rolled-back': '#6a1b9a', pending: '#9e9e9e' };

export function timelineSvg(m: ReportModel): string {
  const names = nodeNames(m);
  const times = [m.run.createdAt, m.run.updatedAt, ...m.nodes.flatMap((n) => [n.startedAt ?? m.run.createdAt, n.finishedAt ?? m.run.updatedAt]), ...m.events.map((e) => e.at)];
  const t0 = Math.min(...times);
  const t1 = Math.max(...times, t0 + 1);
  const label = 140;
  const width = 900;
  const rowH = 22;
  const x = (t: number): number => label + ((t - t0) / (t1 - t0)) * (width - label - 10);
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" id="timeline" width="${width}" height="${names.length * rowH + 30}" role="img" aria-label="per-node timeline">`];
  names.forEach((name, i) => {
    const y = i * rowH + 4;
    out.push(`<g class="row" data-node="${esc(name)}"><text x="4" y="${y + 14}" font-size="12">${esc(name)}</text>`);
    for (const n of m.nodes.filter((r) => r.node === name && r.startedAt !== null)) {
      const a = x(n.startedAt!);
      const b = x(n.finishedAt ?? m.run.updatedAt);
      out.push(`<rect class="phase ${n.phase}" x="${a.toFixed(1)}" y="${y}" width="${Math.max(2, b - a).toFixed(1)}" height="${rowH - 6}" fill="${COLORS[n.phase] ?? '#999'}"><title>${esc(`${name} -> ${n.to}: ${n.phase} ${secs((n.finishedAt ?? m.run.updatedAt) - n.startedAt!)}${n.error ? ` (${n.error})` : ''}`)}</title></rect>`);
    }
    for (const e of m.events.filter((ev) => ev.node === name && (ev.kind === 'gate' || ev.kind === 'node-failed' || ev.kind === 'reattach'))) {
      out.push(`<circle class="event ${e.kind}" cx="${x(e.at).toFixed(1)}" cy="${y + (rowH - 6) / 2}" r="5" fill="#000"><title>${esc(`${e.kind}: ${e.message}`)}</title></circle>`);
    }
    out.push('</g>');
  });
  out.push(`<text x="${label}" y="${names.length * rowH + 22}" font-size="11">${esc(iso(t0))}</text><text x="${width - 10}" y="${names.length * rowH + 22}" font-size="11" text-anchor="end">${esc(secs(t1 - t0))}</text></svg>`);
  return out.join('');
}

export function htmlReport(m: ReportModel): string {
  const table = `<table><thead><tr>${HEADER.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows(m).map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  const events = m.events.length === 0 ? '<p>none</p>' : `<ul>${m.events.map((e) => `<li><code>${esc(iso(e.at))}</code> <b>${esc(e.kind)}</b>${e.node ? ` ${esc(e.node)}` : ''}: ${esc(e.message)}</li>`).join('')}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kip run ${esc(m.run.id)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}.state-succeeded{color:#2e7d32}.state-paused,.state-failed{color:#c62828}</style></head>
<body><h1>kip run ${esc(m.run.id)}</h1>
<p>cluster ${esc(m.run.cluster)}, target ${esc(m.run.target)} (plan ${esc(m.spec.plan)}, max concurrency ${m.spec.maxConcurrency}, max unavailable ${m.spec.maxUnavailable}): <b class="state-${esc(m.run.phase)}">${esc(m.run.phase)}</b>${m.run.reason ? ` — ${esc(m.run.reason)}` : ''}; ${esc(secs(m.run.updatedAt - m.run.createdAt))}</p>
<h2>Timeline</h2>${timelineSvg(m)}
<h2>Plan</h2><ol>${m.spec.steps.map((s) => `<li>kubelets of ${esc(s.nodes.map((n) => n.name).join(', '))} &rarr; ${esc(s.to)}</li>`).join('')}</ol>
${m.actions ? cpHtml(m.spec, m.actions) : ''}<h2>Nodes</h2>${table}${connectionsHtml(m)}
<h2>Events</h2>${events}
</body></html>
`;
}

function cpHtml(spec: RunSpec, actions: readonly ActionRecord[]): string {
  const head = (h: readonly string[]): string => `<thead><tr>${h.map((x) => `<th>${esc(x)}</th>`).join('')}</tr></thead>`;
  const cp = controlPlaneRows(spec, actions).map((r) => `<tr class="cp-action" data-kind="${esc(r.kind)}">${r.cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('');
  const restarts = restartRows(spec, actions).map((r) => `<tr class="step-restarts">${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('');
  return `<h2>Control plane</h2><table id="control-plane">${head(CP_HEADER)}<tbody>${cp}</tbody></table>
<h2>Restarts per step</h2><table id="restarts">${head(RESTARTS_HEADER)}<tbody>${restarts}</tbody></table>
`;
}
