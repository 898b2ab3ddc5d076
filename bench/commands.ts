// The peers' command lines, shared by the scenarios and the latency matrix.

/** aria2c with `n` connections to the one server and 1 MiB pieces, into DIR/NAME. */
export function aria2cArgs(n: number, dir: string, name: string, url: string): string[] {
  return [
    `-x${n}`,
    `-s${n}`,
    '-k1M',
    '--file-allocation=none',
    '--allow-overwrite=true',
    '-d',
    dir,
    '-o',
    name,
    '--console-log-level=error',
    '--summary-interval=0',
    url,
  ];
}

export function aria2cTemplate(n: number): string {
  return `aria2c ${aria2cArgs(n, 'DIR', 'NAME', 'URL').join(' ')}`;
}

/** axel with `n` connections, quiet, into OUT. */
export function axelArgs(n: number, out: string, url: string): string[] {
  return ['-q', '-n', String(n), '-o', out, url];
}

export function axelTemplate(n: number): string {
  return `axel ${axelArgs(n, 'OUT', 'URL').join(' ')}`;
}
