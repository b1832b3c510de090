const MAX_LABEL_BYTES = 63;
const MAX_NAME_WIRE_BYTES = 255;

/** Whether a dotted name (no trailing dot) can go on the wire: labels of 1–63 bytes, 255 bytes in all. */
export function isEncodableName(name: string): boolean {
  const labels = name.split('.');
  let wireBytes = 1;
  for (const label of labels) {
    const bytes = Buffer.byteLength(label);
    if (bytes === 0 || bytes > MAX_LABEL_BYTES) return false;
    wireBytes += bytes + 1;
  }
  return wireBytes <= MAX_NAME_WIRE_BYTES;
}

/** The owner name of an instance's SRV and TXT records. */
export function serviceName(serviceType: string, zone: string): string {
  return `_${serviceType}._tcp.${zone}`;
}
