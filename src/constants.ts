/**
 * Constants the CLI needs before it knows what it will do: kept in a module that imports
 * nothing, so that `--version`, `--help` and `completion` load neither undici nor the engine.
 */

/** This package's version (package.json's; a test keeps them equal). */
export const VERSION = '0.1.0';
/** Most connections one download may use (`-c`). */
export const MAX_CONNECTIONS = 64;
/** Most connections `-c auto` (the default) uses per download, unless `--max-connections` says otherwise: polite, as aria2c's limit of 16 per server. */
export const DEFAULT_MAX_CONNECTIONS = 16;
/** Default of {@link BatchOptions.jobs}: files downloaded at once. */
export const DEFAULT_JOBS = 2;
