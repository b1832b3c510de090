import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Writes the registry's admin token to `<dataDir>/admin-token`, readable by its owner only
 * (SPEC §13). The chmod covers a file that existed before with wider rights.
 */
export async function writeAdminToken(dataDir: string, token: string): Promise<string> {
  const file = join(dataDir, 'admin-token');
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return file;
}
