/** The kubelet's removed flags and gates are version facts: they live in lib/knowledge/flags (the coordinator's plan reads them too). */
export * from '../../lib/knowledge/flags/kubelet.ts';
