import type { IssuanceRequest } from './types.js';

/** Fills `{id}` and `{csr.CN}`; undefined when a placeholder has no value for this request. */
export function fillTemplate(template: string, request: IssuanceRequest): string | undefined {
  let missing = false;
  const value = template.replace(/\{(id|csr\.CN)\}/g, (_, key: string) => {
    const v = key === 'id' ? request.identity : request.csr.commonName;
    if (!v) missing = true;
    return v ?? '';
  });
  return missing ? undefined : value;
}
