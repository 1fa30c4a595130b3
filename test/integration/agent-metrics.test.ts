/** The agent's /metrics (agent/metrics.ts) over real HTTP on 127.0.0.1, fed by the harness agent's real node view. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMetricsServer, type MetricsServer } from '../../agent/metrics.ts';
import { nodeFileSystem } from '../../agent/upgrade/fs.ts';
import { kubeletBinaryPort } from '../../agent/upgrade/wiring.ts';
import { execaExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { makeHarness, type Harness } from '../unit/upgrade-fakes.ts';

let h: Harness;
let m: MetricsServer;
const notAfter = Date.UTC(2027, 0, 1);

beforeAll(async () => {
  h = await makeHarness();
  const { agent } = h.makeAgent({ kubelet: kubeletBinaryPort(execaExec) });
  await agent.start();
  m = await startMetricsServer({ listen: '127.0.0.1:0', source: { nodeInfo: () => agent.nodeInfo(), certNotAfterMs: () => notAfter, agentVersion: '0.1.0' }, logger: silentLogger() });
}, 30_000);

afterAll(async () => {
  await m?.close();
  await h?.cleanup();
});

describe('agent /metrics', () => {
  it('serves build, certificate expiry, kubelet, skip file and process metrics', async () => {
    const res = await fetch(`http://127.0.0.1:${m.port}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('kip_agent_build_info{version="0.1.0"} 1');
    expect(text).toContain(`kip_agent_tls_cert_not_after_seconds ${notAfter / 1000}`);
    expect(text).toContain('kip_agent_kubelet_info{version="v1.10.13",active_state="active"} 1');
    expect(text).toContain('kip_agent_skip_file_present 0');
    expect(text).toMatch(/kip_agent_process_resident_memory_bytes \d+/);
    expect((await fetch(`http://127.0.0.1:${m.port}/other`)).status).toBe(404);
  });
});
