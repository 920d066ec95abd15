import { loadSiteConfig } from '../config/load.js';
import { gatewayForClients, jvmProxyFlags, shellFlags } from '../rules/jvm.js';
import { caPathsOf } from '../serve.js';
import { EXIT, type CliIo } from './io.js';

/**
 * `idp-egress jvm`: what the Atlassian server's JVM needs to use this gateway: the standard JDK
 * proxy properties (https.proxyHost makes it send CONNECT host:443) and trust in the CA.
 */
export function runJvm(configFile: string | undefined, proxyHost: string | undefined, io: CliIo): number {
  const loaded = loadSiteConfig(configFile, io.cwd);
  const listen = loaded.config.listen;
  const host = proxyHost ?? gatewayForClients(listen).host;
  const { cert } = caPathsOf(loaded);
  const flags = shellFlags(jvmProxyFlags(host, listen.port));
  io.out(`# JVM settings for Jira / Confluence to send identity-provider traffic through idp-egress at ${host}:${listen.port}

## 1. Route the server's outbound HTTPS through the gateway

# Jira (Linux): <jira-install>/bin/setenv.sh
JVM_SUPPORT_RECOMMENDED_ARGS="${flags}"

# Confluence (Linux): <confluence-install>/bin/setenv.sh
CATALINA_OPTS="${flags} \${CATALINA_OPTS}"

# Official Atlassian Docker images: the environment variable
JVM_SUPPORT_RECOMMENDED_ARGS=${flags.replace(/'/g, '')}

# Add Data Center peers, the database, LDAP and Synchrony to http.nonProxyHosts
# ("|"-separated, "*" wildcard; it applies to HTTPS too). Restart the node afterwards and check
# the arguments in System information.

## 2. Trust the gateway's CA in the JRE the server really runs (java.home in System information)

<install>/jre/bin/keytool -importcert -noprompt -trustcacerts -alias idp-egress-ca \\
  -file ${cert} -keystore <install>/jre/lib/security/cacerts -storepass changeit
<install>/jre/bin/keytool -list -keystore <install>/jre/lib/security/cacerts -storepass changeit -alias idp-egress-ca

# An upgrade replaces <install>/jre and drops the import. To keep the CA across upgrades, use a
# separate truststore instead. It replaces the JRE's default one, so import the public roots into
# it too if the server makes other HTTPS calls that do not go through the gateway:
#   idp-egress ca export --format p12 --out /etc/atlassian/idp-egress-truststore.p12
#   -Djavax.net.ssl.trustStore=/etc/atlassian/idp-egress-truststore.p12 -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=changeit

# Symptom when the CA is not trusted: "PKIX path building failed". Debug with -Djavax.net.debug=ssl:handshake.
`);
  return EXIT.OK;
}
