/**
 * The house rules (README, "Repository map"), checked by `npm run boundaries` inside `npm test`.
 * Paths are relative to the directory depcruise runs in (the repository root).
 */
const PRODUCTION = '^(agent|coordinator|lib|proto)/';
module.exports = {
  forbidden: [
    {
      name: 'agent-not-coordinator',
      comment: 'kip-agent and the kip coordinator never import each other: what both need lives in lib/ or proto/.',
      severity: 'error',
      from: { path: '^agent/' },
      to: { path: '^coordinator/' },
    },
    {
      name: 'coordinator-not-agent',
      comment: 'kip-agent and the kip coordinator never import each other: what both need lives in lib/ or proto/.',
      severity: 'error',
      from: { path: '^coordinator/' },
      to: { path: '^agent/' },
    },
    {
      name: 'production-not-tools',
      comment: 'Production code (agent, coordinator, lib, proto) imports nothing from scripts/ (the lab included), test/ or bench/.',
      severity: 'error',
      from: { path: PRODUCTION },
      to: { path: '^(scripts|test|bench)/' },
    },
    {
      name: 'tools-not-tests',
      comment: 'The lab, the tools and the benchmarks import no test code: a harness both need lives in scripts/.',
      severity: 'error',
      from: { path: '^(scripts|bench)/' },
      to: { path: '^test/' },
    },
    {
      name: 'lib-is-the-floor',
      comment: 'lib/ and proto/ are what both processes stand on: they import neither agent/ nor coordinator/.',
      severity: 'error',
      from: { path: '^(lib|proto)/' },
      to: { path: '^(agent|coordinator)/' },
    },
    {
      name: 'knowledge-is-pure',
      comment: 'lib/knowledge/ is pure Kubernetes knowledge: it imports only itself and the error vocabulary (lib/errors.ts), no Node built-ins, no packages.',
      severity: 'error',
      from: { path: '^lib/knowledge/' },
      to: { pathNot: ['^lib/knowledge/', '^lib/errors\\.ts$'] },
    },
    {
      name: 'agent-without-client-node',
      comment: 'kip-agent reaches the apiserver through lib/kube/raw.ts and reads kubeconfigs with lib/kube/kubeconfig.ts: @kubernetes/client-node costs it +67 MiB of RSS (issue 12, 80 MB idle goal). Types only. (node_modules are excluded here, so test/unit/package-bundle.test.ts checks the package itself.)',
      severity: 'error',
      from: { path: '^agent/' },
      to: { path: '^lib/kube/client[.]ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-cycles',
      comment: 'Imports flow one way: no cycles.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.mjs', '.js', '.json'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
