/**
 * The configuration file: `$RANGEGET_CONFIG`, else `$XDG_CONFIG_HOME/rangeget/config` (or
 * `~/.config/rangeget/config`). Long options one a line (`connections = 16`, `continue`,
 * `resume = false`); they go before the command line's flags, so those win. A mistake is a
 * {@link UsageError} naming `file:line`, before anything is sent.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command, Option } from 'commander';
import { MAX_CONNECTIONS, resolveOptions } from '../options.js';
import { parseIntInRange } from '../parse.js';
import { UsageError } from '../primitives/errors.js';
import { toDownloadOptions, type RawOptions } from './flags.js';

/** Options that make no sense in a configuration file. */
const NOT_IN_CONFIG = new Set(['help', 'version', 'config', 'no-config', 'output', 'dry-run']);

/** The file to read, and whether it must exist (`$RANGEGET_CONFIG` names one). */
export function configPath(env: NodeJS.ProcessEnv): { path: string; required: boolean } {
  if (env.RANGEGET_CONFIG) return { path: env.RANGEGET_CONFIG, required: true };
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return { path: join(base, 'rangeget', 'config'), required: false };
}

/** A yes/no value as wgetrc and aria2 write them; undefined for anything else. */
function truth(value: string): boolean | undefined {
  const v = value.toLowerCase();
  if (['true', 'on', 'yes', '1'].includes(v)) return true;
  if (['false', 'off', 'no', '0'].includes(v)) return false;
  return undefined;
}

/** One parsed line: the flags it stands for and the raw values commander would give. */
export interface ConfigLine {
  line: number;
  args: string[];
  /** Attribute name → value, as commander stores it. */
  raw: Record<string, string | boolean | string[]>;
}

/** The flags of one `name = value` line, or the reason it is wrong. */
function lineArgs(program: Command, name: string, value: string | undefined): Omit<ConfigLine, 'line'> | string {
  if (NOT_IN_CONFIG.has(name)) return `'${name}' cannot be set in the configuration file`;
  const find = (long: string): Option | undefined => program.options.find((o) => o.long === long);
  const option = find(`--${name}`) ?? find(`--no-${name}`);
  if (!option) return `unknown option '${name}' (use the long names of rangeget --help, without --)`;
  const long = option.long!;
  if (option.required || option.optional) {
    if (value === undefined || value === '') return `'${name}' needs a value: ${name} = VALUE`;
    const attr = option.attributeName();
    return { args: [long, value], raw: { [attr]: ['header', 'mirror'].includes(attr) ? [value] : value } };
  }
  const yes = value === undefined ? true : truth(value);
  if (yes === undefined) return `'${name}' is on or off: ${name} = true or ${name} = false, not '${value}'`;
  // `resume = false` and `no-resume = true` both mean --no-resume; `continue = false`, nothing.
  const on = option.negate && long !== `--${name}` ? !yes : yes;
  if (!on) return { args: [], raw: {} };
  return { args: [long], raw: { [option.attributeName()]: !option.negate } };
}

/**
 * The lines of a configuration `text` read from `path`, each checked against the program's
 * options; `check` validates the values of one line (throws {@link UsageError}).
 */
export function parseConfig(text: string, path: string, program: Command, check: (line: ConfigLine) => void): ConfigLine[] {
  const lines: ConfigLine[] = [];
  text.split(/\r?\n/).forEach((content, i) => {
    const where = `${path}:${i + 1}`;
    const trimmed = content.replace(/(^|\s)#.*$/, '').trim();
    if (trimmed === '') return;
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$/.exec(trimmed);
    if (!m) throw new UsageError(`${where}: expected 'name = value' (a long option without --), got '${trimmed}'`);
    const parsed = lineArgs(program, m[1]!, m[2]?.trim().replace(/^"(.*)"$/, '$1'));
    if (typeof parsed === 'string') throw new UsageError(`${where}: ${parsed}`);
    const line = { line: i + 1, ...parsed };
    try {
      check(line);
    } catch (err) {
      if (err instanceof UsageError) throw new UsageError(`${where}: ${err.message}`);
      throw err;
    }
    lines.push(line);
  });
  return lines;
}

/** Read the configuration file's text; undefined when it is optional and missing. */
export function readConfig(path: string, required: boolean): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!required && (code === 'ENOENT' || code === 'ENOTDIR')) return undefined;
    throw new UsageError(`cannot read the configuration file ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message} (RANGEGET_CONFIG names it; --no-config skips it)`);
  }
}

/**
 * The flags the configuration file stands for, to go before the command line's (none
 * without a file); every line is checked as the flags would be, and a mistake names `file:line`.
 */
export function configArgs(program: Command, env: NodeJS.ProcessEnv): string[] {
  const { path, required } = configPath(env);
  const text = readConfig(path, required);
  if (text === undefined) return [];
  const check = (line: ConfigLine): void => {
    const raw = { resume: true, restart: true, ...line.raw } as RawOptions;
    resolveOptions('http://127.0.0.1/', toDownloadOptions(raw, env));
    if (raw.jobs !== undefined) parseIntInRange(raw.jobs, 'jobs', 1, MAX_CONNECTIONS);
  };
  return parseConfig(text, path, program, check).flatMap((l) => l.args);
}
