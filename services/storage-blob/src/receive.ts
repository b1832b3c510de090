import { createHash } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';

export interface Received {
  size: number;
  sha256: string;
}

/**
 * Streams a request body into `path`, never holding more than one chunk. `admit(total)` is
 * asked before each chunk is kept; when it says no, the file is removed and the rest of the
 * body is left unread (the caller answers and closes the connection), and the result is null.
 */
export async function receiveToFile(body: Readable, path: string, admit: (total: number) => boolean): Promise<Received | null> {
  const file = await open(path, 'wx', 0o600);
  const hash = createHash('sha256');
  // Pulled by hand: leaving a for-await loop would destroy the request, and the answer with it.
  const chunks = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let size = 0;
  let over = false;
  try {
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      const chunk = next.value;
      size += chunk.byteLength;
      if (!admit(size)) {
        over = true;
        break;
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
