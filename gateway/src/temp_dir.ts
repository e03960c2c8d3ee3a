/**
 * The directory for uploads and downloads in flight. Other local users must not read
 * clients' audio or plant files there, so it is private (0700) and ours: the default is a
 * fresh `mkdtemp` directory; a configured one is created 0700, or tightened to 0700 when it
 * exists and is ours, and refused when it is a link or someone else's.
 */
import { chmod, lstat, mkdir, mkdtemp } from 'node:fs/promises';

/** The configured directory cannot be used safely. */
export class UnsafeTempDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeTempDirError';
  }
}

/**
 * Makes the temp directory ready and returns its path.
 *
 * @param configured - the configured path, or the prefix of the default directory.
 * @param isOwned - true for the default: a new directory `<configured>-XXXXXX` is made.
 * @throws UnsafeTempDirError when a configured path is not a private directory of ours.
 */
export async function preparePrivateDir(configured: string, isOwned: boolean): Promise<string> {
  if (isOwned) return mkdtemp(`${configured}-`);
  await mkdir(configured, { recursive: true, mode: 0o700 });
  const stats = await lstat(configured);
  if (!stats.isDirectory()) {
    throw new UnsafeTempDirError(`GATEWAY_TMP_DIR ${configured} is not a directory (or is a link)`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid) {
    throw new UnsafeTempDirError(
      `GATEWAY_TMP_DIR ${configured} belongs to another user (uid ${stats.uid}); use a directory of this user's`,
    );
  }
  if ((stats.mode & 0o077) !== 0) await chmod(configured, 0o700);
  return configured;
}
