/** Versions of components as the node shows them (pure). */

/** `kube-apiserver --version` prints `Kubernetes v1.13.12`; the first such token wins. */
export function parseVersionOutput(stdout: string): string | undefined {
  const m = /\bv(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)\b/.exec(stdout);
  return m ? `v${m[1]}` : undefined;
}

/** The tag of an image reference, when it is a version (`k8s.gcr.io/kube-apiserver:v1.13.12` -> v1.13.12). */
export function imageVersion(image: string): string | undefined {
  const at = image.indexOf('@');
  const ref = at < 0 ? image : image.slice(0, at);
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon <= slash) return undefined;
  const tag = ref.slice(colon + 1);
  return /^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?$/.test(tag) ? (tag.startsWith('v') ? tag : `v${tag}`) : undefined;
}

/** The image with its tag replaced (a digest is dropped: it would pin the old image). */
export function withImageTag(image: string, tag: string): string {
  const at = image.indexOf('@');
  const ref = at < 0 ? image : image.slice(0, at);
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  const repo = colon > slash ? ref.slice(0, colon) : ref;
  return `${repo}:${tag}`;
}
