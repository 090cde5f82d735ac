import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';

export const ATTRIBUTE_OIDS = {
  CN: '2.5.4.3',
  serialNumber: '2.5.4.5',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  O: '2.5.4.10',
  OU: '2.5.4.11',
} as const;
export type AttributeName = keyof typeof ATTRIBUTE_OIDS;

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** Whether PrintableString can carry the value (X.680 §41.4). */
export const isPrintable = (value: string) => PRINTABLE.test(value);

/**
 * A distinguished name, one attribute per RDN, in the order given. PrintableString where the value
 * allows it, UTF8String otherwise (RFC 5280 §4.1.2.4); countryName and serialNumber are always
 * PrintableString (X.520).
 */
export function buildName(attributes: [AttributeName, string][]): Name {
  return new Name(
    attributes.map(([type, value]) => {
      const printable = PRINTABLE.test(value) || type === 'C' || type === 'serialNumber';
      const attrValue = new AttributeValue(printable ? { printableString: value } : { utf8String: value });
      return new RelativeDistinguishedName([new AttributeTypeAndValue({ type: ATTRIBUTE_OIDS[type], value: attrValue })]);
    }),
  );
}

/** RFC 4514-style text (most significant first, as OpenSSL's -nameopt RFC2253 would not) for display. */
export function nameToText(name: Name): string {
  const short = Object.fromEntries(Object.entries(ATTRIBUTE_OIDS).map(([k, v]) => [v, k]));
  return name
    .map((rdn) => rdn.map((atv) => `${short[atv.type] ?? atv.type}=${atv.value.toString()}`).join('+'))
    .join(', ');
}
