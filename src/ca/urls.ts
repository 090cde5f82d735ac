/** The URLs issued certificates carry (docs/http-api.md, the plain-HTTP listener). */
export const crlUrl = (base: string, ca: string) => `${base}/crl/${ca}.crl`;
export const ocspUrl = (base: string) => `${base}/ocsp`;
export const caIssuersUrl = (base: string, ca: string) => `${base}/ca/${ca}.crt`;
