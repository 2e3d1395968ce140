/** The value after `name` on the command line (`--events 1000`), or `fallback`. */
export function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}

/** Every `name NAME=value` pair on the command line (`--env KAFKA_LINGER_MS=0`), as an env. */
export function envArguments(name: string): Record<string, string> {
  return Object.fromEntries(
    process.argv.flatMap((arg, i) =>
      process.argv[i - 1] === name ? [arg.split(/=(.*)/s).slice(0, 2)] : [],
    ),
  ) as Record<string, string>;
}
