/**
 * Splits a TCP byte stream into DNS messages, each sent after a 2-byte length (RFC 1035 §4.2.2).
 * Bytes are joined only when a message spans chunks, so a peer sending one byte at a time costs
 * linear, not quadratic, copying.
 */
export class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;

  push(chunk: Buffer): Buffer[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const messages: Buffer[] = [];
    while (this.#buffered >= 2) {
      const length = this.#peekLength();
      if (this.#buffered < 2 + length) break;
      messages.push(this.#take(2 + length).subarray(2));
    }
    return messages;
  }

  #peekLength(): number {
    const [first, second] = this.#chunks as [Buffer, Buffer | undefined];
    if (first.length >= 2) return first.readUInt16BE(0);
    return ((first[0] as number) << 8) | ((second as Buffer)[0] as number);
  }

  #take(bytes: number): Buffer {
    this.#buffered -= bytes;
    const first = this.#chunks[0] as Buffer;
    if (first.length >= bytes) {
      if (first.length === bytes) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(bytes);
      return first.subarray(0, bytes);
    }
    const joined = Buffer.concat(this.#chunks);
    this.#chunks = joined.length > bytes ? [joined.subarray(bytes)] : [];
    return joined.subarray(0, bytes);
  }
}
