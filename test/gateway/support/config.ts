/** Loading the gateway's configuration in tests, with fixed process facts. */
import { ConfigError, loadConfig } from '../../../gateway/src/config.js';

/** The process facts `loadConfig` reads besides the environment. */
export const CONFIG_DEFAULTS = { repoRoot: '/repo', systemTmpDir: '/tmp', pid: 4242 };

/** The problems `loadConfig` reports for `env`; none when it loads. */
export function issuesOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env, CONFIG_DEFAULTS);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  return [];
}
