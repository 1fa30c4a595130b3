import { describe, expect, it } from 'vitest';
import {
  AlreadyAtVersionError,
  checkApiserverSkew,
  checkKubeletSkew,
  checkUpgradePath,
  checkUpgradeStep,
  compareVersions,
  DowngradeError,
  isPlaceholderVersion,
  parseMinor,
  parseRealVersion,
  parseVersionOutput,
  parseKubeVersion,
  SkewPolicyError,
  VersionInvalidError,
  VersionPlaceholderError,
  VersionSkewError,
} from '../../lib/knowledge/version.ts';

describe('Kubernetes versions (lib/knowledge/version.ts)', () => {
  it('parses what kubelet --version prints', () => {
    const v = parseVersionOutput('Kubernetes v1.10.13\n');
    expect(v).toMatchObject({ raw: 'v1.10.13', major: 1, minor: 10, patch: 13, placeholder: false, prerelease: undefined });
  });

  it('takes the version line among log noise and from stderr-joined output', () => {
    const out = 'Flag --foo has been deprecated\nKubernetes v1.17.17\n';
    expect(parseVersionOutput(out).raw).toBe('v1.17.17');
  });

  it('flags the placeholder build', () => {
    const v = parseVersionOutput('Kubernetes v0.0.0-master+$Format:%h$\n');
    expect(v.placeholder).toBe(true);
    expect(v.raw).toBe('v0.0.0-master+$Format:%h$');
    expect(v.prerelease).toBe('master');
    expect(v.build).toBe('$Format:%h$');
    expect(() => checkUpgradeStep(v, parseKubeVersion('v1.11.0'))).toThrow(VersionPlaceholderError);
    expect(() => checkUpgradeStep(parseKubeVersion('v1.10.0'), v)).toThrow(/placeholder/);
  });

  it('parses pre-releases and build metadata', () => {
    expect(parseKubeVersion('v1.17.0-rc.2')).toMatchObject({ prerelease: 'rc.2', placeholder: false });
    expect(parseKubeVersion('v1.16.3+k3s1')).toMatchObject({ build: 'k3s1', patch: 3 });
  });

  it.each(['v1.17', 'Kubernetes v1.17.1', 'v1.x.0', '', 'v1.17.17 extra', 'v1.11.10/../../x', `v1.11.${'1'.repeat(200)}`, 'v1.11.10-é'])('rejects %j', (text) => {
    expect(() => parseKubeVersion(text)).toThrow(VersionInvalidError);
  });

  it('accepts a version without its v (user input) and keeps the raw text', () => {
    expect(parseKubeVersion('1.17.17')).toMatchObject({ raw: '1.17.17', gitVersion: 'v1.17.17', minor: 17 });
    expect(parseKubeVersion(' v1.10.13 ')).toMatchObject({ raw: 'v1.10.13', gitVersion: 'v1.10.13' });
  });

  it('parses minors the way the knowledge tables key them', () => {
    expect(parseMinor('1.17').key).toBe('1.17');
    expect(parseMinor('v1.17.3-gke.1').key).toBe('1.17');
    expect(() => parseMinor('seventeen')).toThrow(VersionInvalidError);
  });

  it('refuses placeholders where a real version is needed', () => {
    expect(isPlaceholderVersion('v0.0.0-master+$Format:%h$')).toBe(true);
    expect(() => parseRealVersion('v0.0.0-master+$Format:%h$', 'staged binary version')).toThrow(VersionPlaceholderError);
    expect(() => parseRealVersion('v0.0.0', 'x')).toThrow(/placeholder/);
  });

  it('rejects output without a version line, with a typed error and code', () => {
    try {
      parseVersionOutput('command not found');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(VersionInvalidError);
      expect((err as VersionInvalidError).code).toBe('VERSION_INVALID');
    }
  });

  it('orders versions like semver', () => {
    const sorted = ['v1.17.0', 'v1.10.13', 'v1.17.0-rc.2', 'v1.17.0-beta.10', 'v1.17.0-beta.2', 'v1.9.11', 'v1.10.2']
      .map((v) => parseKubeVersion(v))
      .sort(compareVersions)
      .map((v) => v.raw);
    expect(sorted).toEqual(['v1.9.11', 'v1.10.2', 'v1.10.13', 'v1.17.0-beta.2', 'v1.17.0-beta.10', 'v1.17.0-rc.2', 'v1.17.0']);
  });

  it('applies the one-minor-at-a-time rule', () => {
    const p = parseKubeVersion;
    expect(checkUpgradeStep(p('v1.10.13'), p('v1.11.10'))).toBe('minor');
    expect(checkUpgradeStep(p('v1.10.3'), p('v1.10.13'))).toBe('patch');
    expect(checkUpgradeStep(p('v1.16.0'), p('v1.16.0'))).toBe('same');
    expect(() => checkUpgradeStep(p('v1.10.13'), p('v1.12.0'))).toThrow(VersionSkewError);
    expect(() => checkUpgradeStep(p('v1.17.0'), p('v2.0.0'))).toThrow(VersionSkewError);
  });

  it('detects downgrades, allowing them only for a rollback', () => {
    const p = parseKubeVersion;
    expect(() => checkUpgradeStep(p('v1.11.0'), p('v1.10.13'))).toThrow(DowngradeError);
    expect(() => checkUpgradeStep(p('v1.11.2'), p('v1.11.1'))).toThrow(/downgrade/);
    expect(checkUpgradeStep(p('v1.11.0'), p('v1.10.13'), { allowDowngrade: true })).toBe('minor');
    expect(() => checkUpgradeStep(p('v1.13.0'), p('v1.11.0'), { allowDowngrade: true })).toThrow(VersionSkewError);
  });

  it('checks one upgrade of a running component, refusing the version it already runs', () => {
    expect(checkUpgradePath('v1.10.13', 'v1.11.10')).toMatchObject({ kind: 'minor', to: { raw: 'v1.11.10' } });
    expect(() => checkUpgradePath('v1.11.10', 'v1.11.10')).toThrow(AlreadyAtVersionError);
    expect(() => checkUpgradePath('v1.10.13', 'v1.12.0')).toThrow(/next: v1\.11\.x/);
    expect(() => checkUpgradePath('v1.11.10', 'garbage')).toThrow(VersionInvalidError);
  });

  it('applies the version-skew policy between kubelets and kube-apiserver', () => {
    const p = parseKubeVersion;
    expect(() => checkKubeletSkew(p('v1.12.10'), p('v1.10.13'))).not.toThrow();
    expect(() => checkKubeletSkew(p('v1.13.12'), p('v1.10.13'), 'w1')).toThrow(/3 minors behind.*allows 2/);
    expect(() => checkKubeletSkew(p('v1.28.0'), p('v1.25.3'))).not.toThrow();
    expect(() => checkKubeletSkew(p('v1.28.0'), p('v1.24.3'))).toThrow(SkewPolicyError);
    expect(() => checkKubeletSkew(p('v1.27.0'), p('v1.24.3'))).toThrow(/allows 2/);
    expect(() => checkKubeletSkew(p('v1.12.0'), p('v1.13.0'), 'w2')).toThrow(/newer than kube-apiserver/);
    expect(() => checkApiserverSkew([p('v1.12.1'), p('v1.13.0')])).not.toThrow();
    expect(() => checkApiserverSkew([p('v1.12.1'), p('v1.14.0'), p('v1.13.0')])).toThrow(/more than one minor apart/);
  });
});
