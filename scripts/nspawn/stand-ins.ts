/**
 * Stand-ins for the control-plane components and kube-proxy, for tests and benchmarks under a
 * real systemd (the nspawn harness): a python script per component and version that prints
 * `Kubernetes <version>` for --version, names itself in --help's usage line (as cobra does:
 * `Usage:\n  kube-apiserver [flags]`), and serves /healthz, /readyz and /livez with body `ok` on
 * the port its real flags give (kube-apiserver --insecure-port, controller-manager and scheduler
 * --port, kube-proxy --healthz-bind-address). Like the real binaries of that version, it refuses
 * a flag its version removed (kube-proxy 1.16 --resource-container, #78294).
 */

export type StandInName = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kube-proxy';

const PORT_FLAG: Record<StandInName, string> = {
  'kube-apiserver': '--insecure-port',
  'kube-controller-manager': '--port',
  'kube-scheduler': '--port',
  'kube-proxy': '--healthz-bind-address',
};

/** Flags removed at a minor: the stand-in of that minor or later exits like pflag does. */
const REMOVED: readonly { name: StandInName; flag: string; minor: number }[] = [{ name: 'kube-proxy', flag: '--resource-container', minor: 16 }];

export function standInComponent(name: StandInName, version: string, opts: { crash?: boolean } = {}): Buffer {
  const minor = Number(/^v1\.(\d+)/.exec(version)?.[1] ?? '0');
  const removed = REMOVED.filter((r) => r.name === name && minor >= r.minor).map((r) => r.flag);
  return Buffer.from(
    [
      '#!/usr/bin/python3',
      `# kip stand-in ${name} ${version}`,
      'import sys, http.server',
      `VERSION = "${version}"`,
      'if "--version" in sys.argv:',
      '    print("Kubernetes " + VERSION)',
      '    sys.exit(0)',
      'if "--help" in sys.argv:',
      `    print("The ${name} stand-in.\\n\\nUsage:\\n  ${name} [flags]\\n\\nFlags:\\n      ${PORT_FLAG[name]} string   health port\\n      --v Level   log level")`,
      '    sys.exit(0)',
      `for f in ${JSON.stringify(removed)}:`,
      '    for a in sys.argv[1:]:',
      '        if a == f or a.startswith(f + "="):',
      `            print("Error: unknown flag: " + f, flush=True)`,
      '            sys.exit(1)',
      'port = 0',
      'for a in sys.argv[1:]:',
      `    if a.startswith("${PORT_FLAG[name]}="):`,
      '        port = int(a.split("=", 1)[1].rsplit(":", 1)[-1])',
      ...(opts.crash ? [`print("F1201 stand-in ${name} " + VERSION + ": crash requested", flush=True)`, 'sys.exit(1)'] : []),
      'class H(http.server.BaseHTTPRequestHandler):',
      '    def do_GET(self):',
      '        ok = self.path in ("/healthz", "/readyz", "/livez")',
      '        self.send_response(200 if ok else 404)',
      '        self.end_headers()',
      '        self.wfile.write(b"ok" if ok else b"not found")',
      '    def log_message(self, *args):',
      '        pass',
      `print("stand-in ${name} " + VERSION + " serving health on " + str(port), flush=True)`,
      'http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()',
      '',
    ].join('\n'),
  );
}

/** The command-line flag that sets the stand-in's health port, as the real component's flag. */
export function healthPortArg(name: StandInName, port: number): string {
  return name === 'kube-proxy' ? `--healthz-bind-address=127.0.0.1:${port}` : `${PORT_FLAG[name]}=${port}`;
}

export const STAND_IN_NAMES: readonly StandInName[] = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'];

/** Where a stand-in is installed in the node. */
export function standInBinary(name: StandInName): string {
  return `/usr/local/bin/${name}`;
}

/**
 * The stand-in's unit, with a flag of its era each (kube-proxy's `--resource-container=`, which
 * 1.16 removed, so an upgrade past 1.15 runs only with the flag migrated).
 */
export function standInUnit(name: StandInName, port: number): string {
  const extra = name === 'kube-apiserver' ? '--secure-port=0 ' : name === 'kube-proxy' ? '--resource-container= ' : '--leader-elect=true ';
  return `[Unit]\nDescription=stand-in ${name}\n[Service]\nExecStart=${standInBinary(name)} ${extra}${healthPortArg(name, port)} --v=2\nRestart=always\nRestartSec=1\n[Install]\nWantedBy=multi-user.target\n`;
}

/** The health path a caller probes (kube-apiserver /readyz from 1.16; the stand-in serves all three). */
export function standInHealthPath(name: StandInName): string {
  return name === 'kube-apiserver' ? '/readyz' : '/healthz';
}
