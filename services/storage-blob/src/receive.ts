import { createHash } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';

export interface Received {
  size: number;
  sha256: string;
}

/**
 * Streams a request body into `path`, never holding more than one chunk. Past `maxBytes` the
 * file is removed and the rest of the body is read and dropped, so the client still gets an
 * answer; the result is then null.
 */
export async function receiveToFile(body: Readable, path: string, maxBytes: number): Promise<Received | null> {
  const file = await open(path, 'wx', 0o600);
  const hash = createHash('sha256');
  let size = 0;
  let over = false;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (over) continue;
      if (size > maxBytes) {
        over = true;
        continue;
      }
      hash.update(chunk);
      await file.write(chunk);
    }
    if (!over) await file.sync();
  } catch (error) {
    await file.close().catch(() => {});
    await unlink(path).catch(() => {});
    throw error;
  }
  await file.close();
  if (over) {
    await unlink(path).catch(() => {});
    return null;
  }
  return { size, sha256: hash.digest('hex') };
}
