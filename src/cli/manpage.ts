/**
 * The man page `rangeget(1)`, generated from the commander program that `--help` prints, so
 * the two cannot drift: `npm run build` writes it to dist/rangeget.1 (scripts/build-man.mjs).
 */
import type { Command } from 'commander';
import { flagSpecs, subcommands, type FlagSpec } from './completion.js';

/** Text as roff shows it literally: backslashes, ASCII hyphens, no request at a line start. */
function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1');
}

function flagItem(f: FlagSpec): string {
  const flags = [f.short, f.long].filter((n) => n !== undefined).map((n) => `\\fB${roff(n)}\\fR`).join(', ');
  const value = f.arg === undefined ? '' : ` \\fI${roff(f.arg)}\\fR`;
  return `.TP\n${flags}${value}\n${roff(f.description)}\n`;
}

/** The text `--help` prints after the flags and commands, in paragraphs, each `Title: body`. */
function helpParagraphs(program: Command): Array<{ title: string; body: string }> {
  let full = '';
  // Captured, not printed: the program is built for this page alone.
  program.configureOutput({ writeOut: (s) => void (full += s), getOutHelpWidth: () => 80 });
  program.outputHelp();
  const after = full.slice(program.helpInformation().length);
  return after
    .split(/\n\s*\n/)
    .map((p) => p.replace(/^\n+|\s+$/g, ''))
    .filter((p) => p !== '')
    .map((p) => {
      const colon = p.indexOf(':');
      const title = colon > 0 && !p.slice(0, colon).includes('\n') ? p.slice(0, colon) : '';
      const body = title === '' ? p : p.slice(colon + 1).replace(/^ ?\n?/, '');
      return { title, body };
    });
}

/** A help paragraph's title as a man section name: "Input file (-i), aria2's format" → INPUT FILE. */
function sectionName(title: string): string {
  return title.replace(/\s*\(.*?\)/g, '').replace(/,.*$/, '').trim().toUpperCase() || 'NOTES';
}

/** The man page of `program` in roff (man macros). Reconfigures the program's output. */
export function manPage(program: Command, version: string): string {
  const name = program.name();
  const subs = subcommands(program);
  const lines = [
    `.TH ${name.toUpperCase()} 1 "" "${name} ${version}" "User Commands"`,
    '.SH NAME',
    `${name} \\- ${roff(program.description())}`,
    '.SH SYNOPSIS',
    `.B ${name}\n${roff(program.usage())}`,
    ...subs.map((s) => {
      const sub = program.commands.find((c) => c.name() === s.name)!;
      return `.br\n.B ${name} ${s.name}\n${roff(sub.usage())}`;
    }),
    '.SH DESCRIPTION',
    `${roff(program.description())} Run \\fB${name} \\-\\-help\\fR for this page in short.`,
    '.SH OPTIONS',
    ...flagSpecs(program).map(flagItem),
    '.SH COMMANDS',
    ...subs.map((s) => `.TP\n\\fB${s.name}\\fR\n${roff(s.description)}\n.RS\n${s.flags.map(flagItem).join('')}.RE\n`),
    ...helpParagraphs(program).map(({ title, body }) => `.SH ${sectionName(title)}\n.nf\n${roff(body)}\n.fi`),
  ];
  return lines.join('\n').replace(/\n+/g, '\n') + '\n';
}
