import { header, type RulesContext } from './context.js';

/**
 * The gateway's address as clients are told to use it: the listen address, or a placeholder
 * when it listens on every interface (0.0.0.0 or ::), which no client can dial as such.
 */
export function gatewayForClients(listen: { host: string; port: number }): { host: string; port: number } {
  return { host: listen.host === '0.0.0.0' || listen.host === '::' ? '<gateway-host>' : listen.host, port: listen.port };
}

/** Hosts the JVM must reach directly (never through the gateway); "|"-separated, "*" wildcard. */
export const DEFAULT_NON_PROXY_HOSTS = 'localhost|127.*|[::1]';

/**
 * The standard JDK proxy properties that make the Atlassian server's HTTPS go through the
 * gateway: https.proxyHost makes it send CONNECT host:443; http.nonProxyHosts also applies to
 * HTTPS (there is no https.nonProxyHosts).
 */
export function jvmProxyFlags(proxyHost: string, proxyPort: number, nonProxyHosts = DEFAULT_NON_PROXY_HOSTS): string[] {
  return [`-Dhttps.proxyHost=${proxyHost}`, `-Dhttps.proxyPort=${proxyPort}`, `-Dhttp.nonProxyHosts=${nonProxyHosts}`];
}

/** The flags for a shell line (setenv.sh): values holding "|" quoted, as the Atlassian KBs write them. */
export function shellFlags(flags: readonly string[]): string {
  return flags.map((f) => (f.includes('|') ? f.replace(/=(.*)$/, "='$1'") : f)).join(' ');
}

/** The flags as one line for setenv.sh, with the hosts that must never be in nonProxyHosts. */
export function renderJvm(ctx: RulesContext, proxy: string): string {
  const [host, port] = [proxy.slice(0, proxy.lastIndexOf(':')), Number(proxy.slice(proxy.lastIndexOf(':') + 1))];
  const flags = shellFlags(jvmProxyFlags(host, port));
  return (
    header(ctx, '#', 'jvm', ['nothing is enforced by the JVM itself: these flags only send its HTTPS to the gateway, which enforces the policy']) +
    `# Keep these hosts out of http.nonProxyHosts, or their calls bypass the gateway:\n${[...new Set(ctx.hosts.map((h) => h.host))].map((h) => `#   ${h}`).join('\n')}\n` +
    `${flags}\n`
  );
}
