/** The URLs issued certificates carry (README "HTTP", the plain-HTTP listener). */
export const crlUrl = (base: string, ca: string) => `${base}/crl/${ca}.crl`;
export const ocspUrl = (base: string) => `${base}/ocsp`;
export const caIssuersUrl = (base: string, ca: string) => `${base}/ca/${ca}.crt`;
