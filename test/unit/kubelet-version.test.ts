import { describe, expect, it } from 'vitest';
import {
  checkUpgradeStep,
  compareKubeVersions,
  parseKubeletVersionOutput,
  parseKubeVersion,
  KubeletDowngradeError,
  KubeletVersionInvalidError,
  KubeletVersionPlaceholderError,
  KubeletVersionSkewError,
} from '../../agent/kubelet/index.ts';

describe('kubelet versions', () => {
  it('parses what kubelet --version prints', () => {
    const v = parseKubeletVersionOutput('Kubernetes v1.10.13\n');
    expect(v).toMatchObject({ raw: 'v1.10.13', major: 1, minor: 10, patch: 13, placeholder: false, prerelease: undefined });
  });

  it('takes the version line among log noise and from stderr-joined output', () => {
    const out = 'Flag --foo has been deprecated\nKubernetes v1.17.17\n';
    expect(parseKubeletVersionOutput(out).raw).toBe('v1.17.17');
  });

  it('flags the placeholder build', () => {
    const v = parseKubeletVersionOutput('Kubernetes v0.0.0-master+$Format:%h$\n');
    expect(v.placeholder).toBe(true);
    expect(v.raw).toBe('v0.0.0-master+$Format:%h$');
    expect(v.prerelease).toBe('master');
    expect(v.build).toBe('$Format:%h$');
    expect(() => checkUpgradeStep(v, parseKubeVersion('v1.11.0'))).toThrow(KubeletVersionPlaceholderError);
    expect(() => checkUpgradeStep(parseKubeVersion('v1.10.0'), v)).toThrow(/placeholder/);
  });

  it('parses pre-releases and build metadata', () => {
    expect(parseKubeVersion('v1.17.0-rc.2')).toMatchObject({ prerelease: 'rc.2', placeholder: false });
    expect(parseKubeVersion('v1.16.3+k3s1')).toMatchObject({ build: 'k3s1', patch: 3 });
  });

  it.each(['1.17.17', 'v1.17', 'Kubernetes v1.17.1', 'v1.x.0', '', 'v1.17.17 extra'])('rejects %j', (text) => {
    expect(() => parseKubeVersion(text)).toThrow(KubeletVersionInvalidError);
  });

  it('rejects output without a version line, with a typed error and code', () => {
    try {
      parseKubeletVersionOutput('command not found');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(KubeletVersionInvalidError);
      expect((err as KubeletVersionInvalidError).code).toBe('KUBELET_VERSION_INVALID');
    }
  });

  it('orders versions like semver', () => {
    const sorted = ['v1.17.0', 'v1.10.13', 'v1.17.0-rc.2', 'v1.17.0-beta.10', 'v1.17.0-beta.2', 'v1.9.11', 'v1.10.2']
      .map(parseKubeVersion)
      .sort(compareKubeVersions)
      .map((v) => v.raw);
    expect(sorted).toEqual(['v1.9.11', 'v1.10.2', 'v1.10.13', 'v1.17.0-beta.2', 'v1.17.0-beta.10', 'v1.17.0-rc.2', 'v1.17.0']);
  });

  it('applies the one-minor-at-a-time rule', () => {
    const p = parseKubeVersion;
    expect(checkUpgradeStep(p('v1.10.13'), p('v1.11.10'))).toBe('minor');
    expect(checkUpgradeStep(p('v1.10.3'), p('v1.10.13'))).toBe('patch');
    expect(checkUpgradeStep(p('v1.16.0'), p('v1.16.0'))).toBe('same');
    expect(() => checkUpgradeStep(p('v1.10.13'), p('v1.12.0'))).toThrow(KubeletVersionSkewError);
    expect(() => checkUpgradeStep(p('v1.17.0'), p('v2.0.0'))).toThrow(KubeletVersionSkewError);
  });

  it('detects downgrades, allowing them only for a rollback', () => {
    const p = parseKubeVersion;
    expect(() => checkUpgradeStep(p('v1.11.0'), p('v1.10.13'))).toThrow(KubeletDowngradeError);
    expect(() => checkUpgradeStep(p('v1.11.2'), p('v1.11.1'))).toThrow(/downgrade/);
    expect(checkUpgradeStep(p('v1.11.0'), p('v1.10.13'), { allowDowngrade: true })).toBe('minor');
    expect(() => checkUpgradeStep(p('v1.13.0'), p('v1.11.0'), { allowDowngrade: true })).toThrow(KubeletVersionSkewError);
  });
});
