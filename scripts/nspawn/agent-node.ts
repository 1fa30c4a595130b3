/**
 * One systemd node (systemd-nspawn, scripts/nspawn) running kip-agent as a unit beside a stand-in
 * kubelet (a python script: `--version`, `--help`, /healthz, journal lines) as kubelet.service,
 * with a throw-away mutual-TLS PKI and a connected fleet client. Used by the agent's nspawn
 * integration test and by `npm run bench -- agent`; it asserts nothing itself (callers do).
 *
 *   const an = await bootAgentNode({ name: 'kip-agent-it', kubeletVersion: 'v1.10.13' });
 *   try { await an.client.getNode(); } finally { await an.stop(); }
 */
import { createHash } from 'node:crypto';
import { waitFor as poll } from '../../lib/poll.ts';
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { realpathSync } from 'node:fs';
import { bootNode, ensureBaseImage, type BindMount, type NspawnNode } from './index.ts';
import { AgentConnection } from '../../coordinator/fleet/client.ts';
import { makeTestPki, type TestPki } from './test-pki.ts';
import { buildLabProgram } from '../lab/programs.ts';

export const REPO = path.resolve(import.meta.dirname, '..', '..');
/**
 * The checkout, read-only, plus node_modules where it really lives: in a git worktree it is a
 * symlink to another checkout, which must be visible at the same path inside the node.
 */
export function repoBinds(): BindMount[] {
  const binds: BindMount[] = [{ host: REPO }];
  const real = realpathSync(path.join(REPO, 'node_modules'));
  if (!real.startsWith(`${REPO}/`)) binds.push({ host: real });
  return binds;
}

/** The skip file's default path (the upstream patch's). */
export const SKIP_FILE = '/tmp/cache.version.save';

export function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The stand-in kubelet: prints its version, serves /healthz, logs; carries the skip-file path (patched). */
export function standInKubelet(version: string, opts: { crash?: boolean } = {}): Buffer {
  return Buffer.from(
    [
      '#!/usr/bin/python3',
      `# kip stand-in kubelet ${version}; the patched kubelet reads ${SKIP_FILE} (cache.version.save, from pkg/kubelet/cache_version)`,
      'import sys, http.server',
      `VERSION = "${version}"`,
      'if "--version" in sys.argv:',
      '    print("Kubernetes " + VERSION)',
      '    sys.exit(0)',
      'if "--help" in sys.argv:',
      '    print("Usage:\\n  kubelet [flags]\\n\\nFlags:\\n      --healthz-port int32   healthz port\\n      --v Level   log level")',
      '    sys.exit(0)',
      'port = 10248',
      'for a in sys.argv[1:]:',
      '    if a.startswith("--healthz-port="):',
      '        port = int(a.split("=", 1)[1])',
      ...(opts.crash ? ['print("F1127 stand-in kubelet " + VERSION + ": failed to run Kubelet: crash requested", flush=True)', 'sys.exit(1)'] : []),
      'class H(http.server.BaseHTTPRequestHandler):',
      '    def do_GET(self):',
      '        ok = self.path == "/healthz"',
      '        self.send_response(200 if ok else 404)',
      '        self.end_headers()',
      '        self.wfile.write(b"ok" if ok else b"not found")',
      '    def log_message(self, *args):',
      '        pass',
      'print("stand-in kubelet " + VERSION + " serving /healthz on " + str(port), flush=True)',
      'http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()',
      '',
    ].join('\n'),
  );
}

/** The checkout, plus node_modules where it is a symlink to another checkout (a git worktree). */
async function checkoutBinds(): Promise<{ host: string }[]> {
  const modules = await realpath(path.join(REPO, 'node_modules'));
  return modules.startsWith(`${REPO}/`) ? [{ host: REPO }] : [{ host: REPO }, { host: modules }];
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface AgentNodeOptions {
  /** Machine name of the node (nspawn -M). */
  readonly name: string;
  /** Version of the stand-in kubelet installed at /usr/bin/kubelet. */
  readonly kubeletVersion: string;
  /** Agent settings written to /etc/kip/agent.yaml (see agent/upgrade/README.md). */
  readonly stableMs?: number;
  readonly pollMs?: number;
  readonly verifyTimeoutMs?: number;
  readonly logLevel?: string;
  /** More `key: value` lines for /etc/kip/agent.yaml. */
  readonly extraConfig?: readonly string[];
  /** Parent of the node's work directory; a fresh temp directory when absent. */
  readonly tmpParent?: string;
  readonly bootTimeoutMs?: number;
  /**
   * Host path of a packaged kip-agent (npm run package): installed as /usr/local/bin/kip-agent and
   * run by scripts/systemd/kip-agent.service, on a node WITHOUT Node.js and without the checkout.
   * Absent: the checkout's bin/kip-agent.mjs through the host's node (bound read-only).
   */
  readonly artifact?: string;
  /**
   * Host path of an esbuild bundle of the agent (buildAgentBundle): copied into the node and run
   * by the host's node binary instead of bin/kip-agent.mjs through tsx, so a restart costs about a
   * second, not a TypeScript compile (about 13 s under load). The checkout stays bound (the bundle
   * reads the proto files from it).
   */
  readonly agentBundle?: string;
  /** Extra lines for the agent unit's [Service] section (a drop-in), e.g. a shorter WatchdogSec. */
  readonly agentServiceExtra?: readonly string[];
  /** More host paths bound read-only into the node (e.g. qemu-aarch64-static and its aarch64 root, for the arm64 artifact). */
  readonly bindRo?: readonly { host: string; inside?: string }[];
  /** How long the first start of the units and the first GetNode may take (default 60 s; an emulated agent needs more). */
  readonly startTimeoutMs?: number;
}

/** What is on the node right now, read from inside it. */
export interface NodeFacts {
  readonly binSha: string;
  readonly skip: string | undefined;
  readonly active: string;
  readonly health: string;
  readonly temps: string;
}

export interface AgentNode {
  readonly node: NspawnNode;
  readonly client: AgentConnection;
  readonly pki: TestPki;
  readonly agentPort: number;
  readonly healthzPort: number;
  /** The stand-in kubelet the node started with. */
  readonly oldBinary: Buffer;
  /** Runs `sh -c cmd` in the node; throws on a non-zero exit. */
  sh(cmd: string, timeoutMs?: number): Promise<string>;
  /** Runs `sh -c cmd` in the node; returns the exit code and stdout. */
  shMaybe(cmd: string, timeoutMs?: number): Promise<{ code: number | undefined; out: string }>;
  /** The last journal lines of the agent and the kubelet (for error messages). */
  logs(): Promise<string>;
  /** Polls `fn` every 250 ms until it returns a value; the error names `what` and carries the logs. */
  waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T>;
  waitAgentUp(timeoutMs?: number): Promise<void>;
  /** Sets (or clears with '') KIP_AGENT_FAULT through a drop-in and restarts the agent. */
  setFault(spec: string): Promise<void>;
  facts(): Promise<NodeFacts>;
  /** MainPID of a unit inside the node (0 when it has none). */
  mainPid(unit: string): Promise<number>;
  /** Closes the client, stops the node (no process, mount or cgroup left) and removes its files. */
  stop(): Promise<void>;
}

/** Where bootAgentNode puts an agent bundle in the node. */
export const AGENT_BUNDLE_IN_NODE = '/usr/local/lib/kip-agent/kip-agent.mjs';

/** Bundles agent/main.ts (esbuild, scripts/lab/programs.ts) into `dir`; returns the file. */
export async function buildAgentBundle(dir: string): Promise<string> {
  const out = path.join(dir, 'kip-agent.mjs');
  await buildLabProgram(REPO, 'kip-agent', out);
  return out;
}

export const KUBELET_UNIT =
  '[Unit]\nDescription=stand-in kubelet\n[Service]\nEnvironmentFile=/etc/default/kubelet\nExecStart=/usr/bin/kubelet $KUBELET_ARGS\nRestart=always\nRestartSec=1\n[Install]\nWantedBy=multi-user.target\n';

/**
 * Boots the node, installs the stand-in kubelet and the agent as units, starts both and waits for
 * the agent to answer GetNode and the kubelet to answer /healthz. On any failure everything
 * started so far is stopped before the error is rethrown.
 */
export async function bootAgentNode(options: AgentNodeOptions): Promise<AgentNode> {
  const tmp = await mkdtemp(path.join(options.tmpParent ?? tmpdir(), `${options.name}-`));
  let node: NspawnNode | undefined;
  let client: AgentConnection | undefined;
  let stopped = false;
  const cleanup = async () => {
    if (stopped) return;
    stopped = true;
    client?.close();
    try {
      await node?.stop();
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  };
  try {
    const [agentPort, healthzPort] = [await freePort(), await freePort()];
    const pki = await makeTestPki(path.join(tmp, 'pki'));
    const base = await ensureBaseImage();
    node = options.artifact
      ? await bootNode({ name: options.name, base, workDir: path.join(tmp, 'node'), bindNodeBinary: false, bindRo: [...(options.bindRo ?? [])] })
      : await bootNode({ name: options.name, base, workDir: path.join(tmp, 'node'), bindRo: [...repoBinds(), ...(options.bindRo ?? [])] });
    await node.waitForSystemd(options.bootTimeoutMs ?? 90_000);
    const n: NspawnNode = node;
    const root = n.root;
    const put = async (p: string, data: string | Buffer, mode = 0o644) => {
      await mkdir(path.dirname(path.join(root, p)), { recursive: true });
      await writeFile(path.join(root, p), data, { mode });
    };
    const oldBinary = standInKubelet(options.kubeletVersion);
    await put('/usr/bin/kubelet', oldBinary, 0o755);
    await put('/etc/default/kubelet', `KUBELET_ARGS="--healthz-port=${healthzPort} --v=2"\n`);
    await put('/etc/systemd/system/kubelet.service', KUBELET_UNIT);
    await put('/etc/kip/pki/ca.crt', pki.server.ca);
    await put('/etc/kip/pki/agent.crt', pki.server.cert);
    await put('/etc/kip/pki/agent.key', pki.server.key, 0o600);
    await put(
      '/etc/kip/agent.yaml',
      [
        `listen: 127.0.0.1:${agentPort}`,
        `healthzUrl: http://127.0.0.1:${healthzPort}/healthz`,
        `stableMs: ${options.stableMs ?? 1500}`,
        `pollMs: ${options.pollMs ?? 50}`,
        `verifyTimeoutMs: ${options.verifyTimeoutMs ?? 30_000}`,
        `logLevel: ${options.logLevel ?? 'debug'}`,
        ...(options.extraConfig ?? []),
        '',
      ].join('\n'),
    );
    if (options.artifact) {
      await put('/usr/local/bin/kip-agent', await readFile(options.artifact), 0o755);
      await put('/etc/systemd/system/kip-agent.service', await readFile(path.join(REPO, 'scripts/systemd/kip-agent.service')));
    } else {
      let entry = `${REPO}/bin/kip-agent.mjs`;
      if (options.agentBundle) {
        entry = AGENT_BUNDLE_IN_NODE;
        await put(entry, await readFile(options.agentBundle), 0o644);
      }
      await put(
        '/etc/systemd/system/kip-agent.service',
        `[Unit]\nDescription=kip-agent\n[Service]\nExecStart=${process.execPath} ${entry} --config /etc/kip/agent.yaml\nRestart=always\nRestartSec=1\n[Install]\nWantedBy=multi-user.target\n`,
      );
    }
    if (options.agentServiceExtra?.length) await put('/etc/systemd/system/kip-agent.service.d/test.conf', `[Service]\n${options.agentServiceExtra.join('\n')}\n`);

    const shMaybe = async (cmd: string, timeoutMs = 30_000) => {
      const r = await n.exec('sh', ['-c', cmd], { timeoutMs });
      return { code: r.exitCode, out: r.stdout };
    };
    const sh = async (cmd: string, timeoutMs = 60_000) => {
      const r = await n.exec('sh', ['-c', cmd], { timeoutMs });
      if (r.exitCode !== 0) throw new Error(`in node: ${cmd} -> ${String(r.exitCode)}: ${r.stderr}${r.stdout}`);
      return r.stdout;
    };
    const logs = async () => (await shMaybe('journalctl -u kip-agent.service -u kubelet.service --no-pager -n 80 -o cat')).out;
    const waitFor = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> =>
      poll(what, fn, { timeoutMs, intervalMs: 250, context: logs });

    // Tests kill this agent on purpose: reconnect every 200 ms, not after grpc-js's growing backoff.
    const conn = new AgentConnection({ address: `127.0.0.1:${agentPort}`, tls: pki.client, maxRetries: 5, backoffMs: 200, reconnectBackoffMs: 200 });
    client = conn;
    const waitAgentUp = async (timeoutMs = 60_000) => {
      await waitFor('the agent to answer GetNode', async () => (await conn.getNode()).nodeName, timeoutMs);
    };
    const facts = async (): Promise<NodeFacts> => {
      const bin = await readFile(path.join(root, 'usr/bin/kubelet'));
      const skip = await shMaybe(`cat ${SKIP_FILE}`);
      const active = (await shMaybe('systemctl is-active kubelet.service')).out.trim();
      const health = (await shMaybe(`python3 -c 'import urllib.request;print(urllib.request.urlopen("http://127.0.0.1:${healthzPort}/healthz",timeout=3).read().decode())'`)).out.trim();
      const temps = (await shMaybe('ls -a /usr/bin | grep kip-tmp || true')).out.trim();
      return { binSha: sha256(bin), skip: skip.code === 0 ? skip.out : undefined, active, health, temps };
    };
    const setFault = async (spec: string) => {
      const dropIn = path.join(root, 'etc/systemd/system/kip-agent.service.d');
      await mkdir(dropIn, { recursive: true });
      await writeFile(path.join(dropIn, 'fault.conf'), spec ? `[Service]\nEnvironment=KIP_AGENT_FAULT=${spec}\n` : '[Service]\n');
      await sh('rm -rf /var/lib/kip-agent/faults-fired && systemctl daemon-reload && systemctl restart kip-agent.service');
      await waitAgentUp();
    };
    const mainPid = async (unit: string) => Number((await sh(`systemctl show -p MainPID --value ${unit}`)).trim());

    await sh('systemctl daemon-reload && systemctl start kubelet.service kip-agent.service', options.startTimeoutMs ?? 60_000);
    await waitAgentUp(options.startTimeoutMs ?? 60_000);
    await waitFor('the stand-in kubelet to be healthy', async () => ((await facts()).health === 'ok' ? true : undefined), 30_000);
    return { node: n, client: conn, pki, agentPort, healthzPort, oldBinary, sh, shMaybe, logs, waitFor, waitAgentUp, setFault, facts, mainPid, stop: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
