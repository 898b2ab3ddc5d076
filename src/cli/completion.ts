/**
 * Shell completion scripts (`rangeget completion bash|zsh|fish`), generated from the commander
 * program itself, so that every flag added there is completed without further work.
 */
import type { Command } from 'commander';

/** One flag as the completion scripts and the man page need it. */
export interface FlagSpec {
  /** `-o`, or undefined. */
  short?: string;
  /** `--output`, or undefined for a short-only flag. */
  long?: string;
  /** The value's name (`file`, `n`, ...), or undefined for a switch. */
  arg?: string;
  /** What the value completes to: file names, directory names, or nothing to offer. */
  kind: 'switch' | 'file' | 'dir' | 'value';
  description: string;
  repeatable: boolean;
}

/** Every visible flag of `cmd` (help and version included), in the order `--help` shows them. */
export function flagSpecs(cmd: Command): FlagSpec[] {
  return cmd.createHelp().visibleOptions(cmd).map((o) => {
    const m = /<([^>]+)>|\[([^\]]+)\]/.exec(o.flags);
    const arg = m?.[1] ?? m?.[2];
    const kind = arg === undefined ? 'switch' : arg === 'file' ? 'file' : arg === 'dir' ? 'dir' : 'value';
    return {
      ...(o.short ? { short: o.short } : {}),
      ...(o.long ? { long: o.long } : {}),
      ...(arg !== undefined ? { arg } : {}),
      kind,
      description: o.description,
      repeatable: /repeatable/.test(o.description),
    };
  });
}

/** The visible subcommands of `cmd` with their flags (commander's implicit `help` left out). */
export function subcommands(cmd: Command): Array<{ name: string; description: string; flags: FlagSpec[] }> {
  return cmd.commands
    .filter((c) => c.name() !== 'help')
    .map((c) => ({ name: c.name(), description: c.description(), flags: flagSpecs(c) }));
}

/** The shells `completionScript` writes for. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

const names = (f: FlagSpec): string[] => [f.short, f.long].filter((n): n is string => n !== undefined);

/** bash: flags after `-`, files after a file flag, directories after `-d`, nothing after a value flag. */
function bash(cmd: Command): string {
  const name = cmd.name();
  const fn = `_${name.replace(/\W/g, '_')}`;
  const top = flagSpecs(cmd);
  const subs = subcommands(cmd);
  const withKind = (flags: FlagSpec[], kind: FlagSpec['kind']): string =>
    [...new Set(flags.filter((f) => f.kind === kind).flatMap(names))].join('|');
  const all = [...top, ...subs.flatMap((s) => s.flags)];
  const cases = (['file', 'dir', 'value'] as const)
    .map((kind) => [withKind(all, kind), kind] as const)
    .filter(([pattern]) => pattern !== '')
    .map(([pattern, kind]) => {
      // A value flag (-c, --checksum...): nothing sensible to offer.
      if (kind === 'value') return `    ${pattern}) COMPREPLY=(); return ;;`;
      return `    ${pattern}) mapfile -t COMPREPLY < <(compgen -${kind === 'file' ? 'f' : 'd'} -- "$cur"); return ;;`;
    })
    .join('\n');
  const subFlags = subs
    .map((s) => `    ${s.name}) flags=${JSON.stringify(s.flags.flatMap(names).join(' '))} ;;`)
    .join('\n');
  return `# bash completion for ${name}: source it, or save it as
# ~/.local/share/bash-completion/completions/${name}
${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} sub=\${COMP_WORDS[1]}
  # --flag=value: bash splits at '=', so the flag is one word further back.
  if [[ $cur == = ]]; then cur=''; elif [[ $prev == = ]]; then prev=\${COMP_WORDS[COMP_CWORD-2]}; fi
  case $prev in
${cases}
  esac
  local flags=${JSON.stringify(top.flatMap(names).join(' '))}
  case $sub in
${subFlags}
  esac
  if [[ $sub == completion && $COMP_CWORD -eq 2 ]]; then
    mapfile -t COMPREPLY < <(compgen -W ${JSON.stringify(SHELLS.join(' '))} -- "$cur")
  elif [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$flags" -- "$cur")
  elif [[ $COMP_CWORD -eq 1 ]]; then
    mapfile -t COMPREPLY < <(compgen -W ${JSON.stringify(subs.map((s) => s.name).join(' '))} -- "$cur")
  fi
}
complete -o filenames -F ${fn} ${name}
`;
}

/** zsh's `_arguments` wants `[`, `]`, `:` and `'` escaped in descriptions. */
const zshText = (s: string): string => s.replace(/\\/g, '\\\\').replace(/([[\]:])/g, '\\$1').replace(/'/g, `'\\''`);

function zshSpecs(flags: FlagSpec[]): string[] {
  return flags.flatMap((f) => {
    const action = f.kind === 'file' ? '_files' : f.kind === 'dir' ? '_files -/' : ' ';
    const value = f.arg === undefined ? '' : `:${zshText(f.arg)}:${action}`;
    return names(f).map((n) => `'${f.repeatable ? '*' : ''}${n}[${zshText(f.description)}]${value}'`);
  });
}

function zsh(cmd: Command): string {
  const name = cmd.name();
  const fn = `_${name.replace(/\W/g, '_')}`;
  const subs = subcommands(cmd);
  const subCases = subs
    .map((s) => {
      const rest = s.name === 'completion' ? ` '1:shell:(${SHELLS.join(' ')})'` : '';
      return `    ${s.name}) shift words; (( CURRENT-- )); _arguments -s ${zshSpecs(s.flags).join(' ')}${rest}; return ;;`;
    })
    .join('\n');
  const commands = subs.map((s) => `'${s.name}:${zshText(s.description)}'`).join(' ');
  return `#compdef ${name}
# zsh completion for ${name}: save it as _${name} in a folder of $fpath, or source it.
${fn}() {
  case $words[2] in
${subCases}
  esac
  _arguments -s \\
    ${zshSpecs(flagSpecs(cmd)).join(' \\\n    ')} \\
    '1: :->first' \\
    '*:url:_urls'
  if [[ $state == first ]]; then
    local -a commands=(${commands})
    _describe command commands
    _urls
  fi
}
if [[ $funcstack[1] == ${fn} ]]; then ${fn} "$@"; else compdef ${fn} ${name}; fi
`;
}

/** fish quotes: single quotes, with `\\` and `'` escaped. */
const fishText = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function fishLines(name: string, flags: FlagSpec[], condition: string): string[] {
  return flags.map((f) => {
    const parts = [`complete -c ${name}`, `-n ${fishText(condition)}`];
    if (f.short) parts.push(`-s ${f.short.slice(1)}`);
    if (f.long) parts.push(`-l ${f.long.slice(2)}`);
    if (f.kind === 'file') parts.push('-r -F');
    else if (f.kind === 'dir') parts.push(`-x -a '(__fish_complete_directories)'`);
    else if (f.kind === 'value') parts.push('-x');
    parts.push(`-d ${fishText(f.description)}`);
    return parts.join(' ');
  });
}

function fish(cmd: Command): string {
  const name = cmd.name();
  const subs = subcommands(cmd);
  const none = `not __fish_seen_subcommand_from ${subs.map((s) => s.name).join(' ')}`;
  return [
    `# fish completion for ${name}: save it as ~/.config/fish/completions/${name}.fish, or source it.`,
    `complete -c ${name} -f`,
    ...fishLines(name, flagSpecs(cmd), none),
    ...subs.map((s) => `complete -c ${name} -n ${fishText('__fish_use_subcommand')} -a ${s.name} -d ${fishText(s.description)}`),
    ...subs.flatMap((s) => fishLines(name, s.flags, `__fish_seen_subcommand_from ${s.name}`)),
    ...(subs.some((s) => s.name === 'completion')
      ? [`complete -c ${name} -n ${fishText('__fish_seen_subcommand_from completion')} -a ${fishText(SHELLS.join(' '))}`]
      : []),
    '',
  ].join('\n');
}

/** The completion script of `shell` for the program `cmd`. */
export function completionScript(shell: Shell, cmd: Command): string {
  return shell === 'bash' ? bash(cmd) : shell === 'zsh' ? zsh(cmd) : fish(cmd);
}
