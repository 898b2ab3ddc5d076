/**
 * The name a download is saved as when `-o` is not given: what the server suggests, made safe.
 */
import { fileNameFromContentDisposition, fileNameFromUrl } from '../http/disposition.js';
import { DEFAULT_FILE_NAME, sanitizeFileName } from '../storage/target.js';

/**
 * The name to save as when `-o` is not given: the sanitised Content-Disposition name, else
 * the sanitised name from the (final, after redirects) URL, else `index.html`.
 */
export function chooseFileName(finalUrl: URL, contentDisposition?: string): string {
  const fromHeader = fileNameFromContentDisposition(contentDisposition);
  const fromUrl = fileNameFromUrl(finalUrl);
  return (
    (fromHeader !== undefined ? sanitizeFileName(fromHeader) : undefined) ??
    (fromUrl !== undefined ? sanitizeFileName(fromUrl) : undefined) ??
    DEFAULT_FILE_NAME
  );
}
