import type { TlsOptions } from 'node:tls';

/**
 * TLS 1.2 minimum, 1.3 preferred (Node negotiates the highest both sides speak). For 1.2, only
 * forward-secret AEAD suites (Mozilla "intermediate"). Client certificates are requested but not
 * required at the TLS layer: routes decide what a certificate is good for.
 */
export function httpsOptions(material: { key: string; cert: string }, trustedCas: string[]): TlsOptions {
  return {
    key: material.key,
    cert: material.cert,
    minVersion: 'TLSv1.2',
    ciphers: [
      'TLS_AES_128_GCM_SHA256',
      'TLS_AES_256_GCM_SHA384',
      'TLS_CHACHA20_POLY1305_SHA256',
      'ECDHE-ECDSA-AES128-GCM-SHA256',
      'ECDHE-RSA-AES128-GCM-SHA256',
      'ECDHE-ECDSA-AES256-GCM-SHA384',
      'ECDHE-RSA-AES256-GCM-SHA384',
      'ECDHE-ECDSA-CHACHA20-POLY1305',
      'ECDHE-RSA-CHACHA20-POLY1305',
    ].join(':'),
    honorCipherOrder: true,
    requestCert: true,
    rejectUnauthorized: false,
    ca: trustedCas,
  };
}
