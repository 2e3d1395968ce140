/** The value after `name` on the command line (`--events 1000`), or `fallback`. */
export function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}
