/** Small file-system helpers shared by the modules that manage a download's files. */
import { unlink } from 'node:fs/promises';

/**
 * Remove one file; a file already gone is fine. (`rm({ force: true })` does the same with an
 * extra `lstat` per call, which a batch of small files pays a few times per file.)
 */
export async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
