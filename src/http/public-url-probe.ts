/**
 * Whether the configured public base URL (config `publicBaseUrl`) reaches this CA: every certificate
 * Hallmark issues points relying parties at <base>/crl/…, <base>/ocsp and <base>/ca/…, so a URL that
 * leads elsewhere leaves a fleet with certificates whose revocation nobody can check. Asked by
 * fetching one CA certificate from the URL and comparing it with this CA's own; a proxy in front is
 * fine as long as it leads here.
 */
export interface PublicUrlCheck {
  ok: boolean;
  /** What was found, in words, with what to change when it is not ok. */
  detail: string;
}

export async function probePublicUrl(base: string, ca: { name: string; certificate: Uint8Array }, options: { httpPort?: number; configFile: string; timeoutMs?: number }): Promise<PublicUrlCheck> {
  const url = new URL(base);
  const namedPort = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const portHint = options.httpPort !== undefined && namedPort !== options.httpPort ? `; it names port ${namedPort} but the HTTP listener is on ${options.httpPort}` : '';
  const fix = `certificates issued now point relying parties' CRL and OCSP checks there: set publicBaseUrl in ${options.configFile} to the URL they reach this server's HTTP listener at, or put a proxy there that leads here`;
  const target = `${base}/ca/${ca.name}.crt`;
  let answer: Response;
  try {
    answer = await fetch(target, { signal: AbortSignal.timeout(options.timeoutMs ?? 3000), redirect: 'manual' });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = (e as Error).name === 'TimeoutError' ? 'no answer within the timeout' : (cause?.code ?? cause?.message ?? (e as Error).message);
    return { ok: false, detail: `publicBaseUrl ${base} does not reach this server (${why})${portHint}: ${fix}` };
  }
  const body = Buffer.from(await answer.arrayBuffer());
  if (answer.status !== 200) return { ok: false, detail: `publicBaseUrl ${base} answered HTTP ${answer.status} for /ca/${ca.name}.crt${portHint}: ${fix}` };
  if (!body.equals(Buffer.from(ca.certificate))) return { ok: false, detail: `publicBaseUrl ${base} is served by another CA (its /ca/${ca.name}.crt is not this CA's)${portHint}: ${fix}` };
  return { ok: true, detail: `publicBaseUrl ${base} reaches this CA` };
}
