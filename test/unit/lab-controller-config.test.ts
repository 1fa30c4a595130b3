import { describe, expect, it } from 'vitest';
import { parseControllerManagerArgs } from '../../scripts/lab/controller-manager/config.ts';
import { applyFeatureGates, defaultFeatureGates } from '../../scripts/lab/controller-manager/features.ts';

describe('feature gates per version', () => {
  it('TaintBasedEvictions on from 1.13, TaintNodesByCondition from 1.12', () => {
    expect(defaultFeatureGates(10)).toEqual({ TaintBasedEvictions: false, TaintNodesByCondition: false });
    expect(defaultFeatureGates(11)).toEqual({ TaintBasedEvictions: false, TaintNodesByCondition: false });
    expect(defaultFeatureGates(12)).toEqual({ TaintBasedEvictions: false, TaintNodesByCondition: true });
    expect(defaultFeatureGates(13)).toEqual({ TaintBasedEvictions: true, TaintNodesByCondition: true });
    expect(defaultFeatureGates(17)).toEqual({ TaintBasedEvictions: true, TaintNodesByCondition: true });
  });
  it('--feature-gates overrides, ignores unmodelled gates, rejects garbage', () => {
    expect(applyFeatureGates(defaultFeatureGates(13), 'TaintBasedEvictions=false, NodeLease=true')).toEqual({ TaintBasedEvictions: false, TaintNodesByCondition: true });
    expect(applyFeatureGates(defaultFeatureGates(11), 'TaintBasedEvictions=true')).toEqual({ TaintBasedEvictions: true, TaintNodesByCondition: false });
    expect(() => applyFeatureGates(defaultFeatureGates(13), 'TaintBasedEvictions')).toThrow(/invalid entry/);
  });
});

describe('controller-manager command line', () => {
  it('real defaults', () => {
    const c = parseControllerManagerArgs(['--lab-kube-version=v1.13.12', '--kubeconfig=/k', '--leader-elect']);
    expect(c.nodeMonitorPeriodMs).toBe(5000);
    expect(c.lifecycle).toEqual({
      nodeMonitorGracePeriodMs: 40_000, nodeStartupGracePeriodMs: 60_000, podEvictionTimeoutMs: 300_000, nodeEvictionRate: 0.1,
      secondaryNodeEvictionRate: 0.01, unhealthyZoneThreshold: 0.55, largeClusterSizeThreshold: 50, taintManager: true, taintBasedEvictions: true, taintNodesByCondition: true,
    });
  });
  it('tuning flags, gates, and the taint manager switch', () => {
    const c = parseControllerManagerArgs(['--lab-kube-version=v1.13.12', '--kubeconfig', '/k', '--node-monitor-period=500ms', '--node-monitor-grace-period', '2s',
      '--pod-eviction-timeout=30s', '--node-eviction-rate=10', '--feature-gates=TaintBasedEvictions=false']);
    expect(c.nodeMonitorPeriodMs).toBe(500);
    expect(c.lifecycle).toMatchObject({ nodeMonitorGracePeriodMs: 2000, podEvictionTimeoutMs: 30_000, nodeEvictionRate: 10, taintBasedEvictions: false });
    expect(parseControllerManagerArgs(['--lab-kube-version=v1.13.12', '--kubeconfig=/k', '--enable-taint-manager=false']).lifecycle.taintBasedEvictions).toBe(false);
    expect(parseControllerManagerArgs(['--lab-kube-version=v1.12.10', '--kubeconfig=/k']).lifecycle.taintBasedEvictions).toBe(false);
  });
  it('errors', () => {
    expect(parseControllerManagerArgs(['--lab-kube-version=v1.13.12', '--kubeconfig=/k']).healthz).toEqual({ host: '0.0.0.0', port: 10252 });
    expect(parseControllerManagerArgs(['--lab-kube-version=v1.13.12', '--kubeconfig=/k', '--address=127.0.0.10', '--port=0']).healthz).toBeUndefined();
    expect(() => parseControllerManagerArgs(['--kubeconfig=/k'])).toThrow(/lab-kube-version/);
    expect(() => parseControllerManagerArgs(['--lab-kube-version=v1.13.12'])).toThrow(/--kubeconfig/);
    expect(() => parseControllerManagerArgs(['--lab-kube-version=v1.13.12', '--kubeconfig=/k', '--node-monitor-grace-period=40'])).toThrow(/invalid duration/);
    expect(() => parseControllerManagerArgs(['--lab-kube-version=v1.13.12', '--kubeconfig=/k', '--node-monitor-period=0'])).toThrow(/positive/);
    expect(() => parseControllerManagerArgs(['--lab-kube-version=v1.13.12', '--kubeconfig=/k', '--node-eviction-rate=-1'])).toThrow(/invalid number/);
    expect(parseControllerManagerArgs(['--lab-kube-version=v1.13.12', '--kubeconfig=/k', '--nope', '--controllers=*,bootstrapsigner', '--v=2']).unknownFlags).toEqual(['nope']);
  });
});
