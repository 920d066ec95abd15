# The gateway in tunnel mode (host and SNI checked, then bytes spliced), started as `npm start`
# starts it: node with GATEWAY_NODE_OPTIONS (src/core/gc-tuning.ts). The harness's own
# project/idp-egress-tunnel.sh starts plain `node`; give this file with --proxy-file instead.
# Needs a built checkout at IDP_EGRESS_DIR (npm ci done, so dist/ is built).
NAME=idp-egress-tunnel
MODE=tunnel
PORT=18141
CA="$UPSTREAM_CA"
IDP_EGRESS_DIR="${IDP_EGRESS_DIR:?set IDP_EGRESS_DIR to a built idp-egress checkout}"
prepare() {
  mkdir -p "$RUN/idp-egress-tunnel"
  render "$BENCH_DIR/project/idp-egress.yaml.tmpl" "$RUN/idp-egress-tunnel/site.yaml"
  sed -i -e "s#@TLS@#tunnel#" -e "s#@DIR@#$RUN/idp-egress-tunnel#" "$RUN/idp-egress-tunnel/site.yaml"
  node "$IDP_EGRESS_DIR/dist/src/cli/main.js" ca init --config "$RUN/idp-egress-tunnel/site.yaml" >/dev/null
}
START="${IDP_NODE:-node} --max-semi-space-size=32 --min-semi-space-size=32 --initial-old-space-size=64 $IDP_EGRESS_DIR/dist/src/cli/main.js serve --config $RUN/idp-egress-tunnel/site.yaml"
