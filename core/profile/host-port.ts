/** HOST:PORT as parseGateway (fields.ts) reads it back: an IPv6 address in brackets ([2001:db8::1]:1194), or the port looks like part of it. */
export function formatHostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
