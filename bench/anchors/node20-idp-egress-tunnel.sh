# The project under test, tunnel mode (host and SNI checked, then bytes spliced).
# Needs a built checkout at IDP_EGRESS_DIR (npm ci done, so dist/ is built).
NAME=idp-egress-tunnel-node20
MODE=tunnel
PORT=18151
CA="$UPSTREAM_CA"
IDP_EGRESS_DIR=/tmp/wt-node20
prepare() {
  mkdir -p "$RUN/idp-egress-tunnel-node20"
  render "$BENCH_DIR/project/idp-egress.yaml.tmpl" "$RUN/idp-egress-tunnel-node20/site.yaml"
  sed -i -e "s#@TLS@#tunnel#" -e "s#@DIR@#$RUN/idp-egress-tunnel-node20#" "$RUN/idp-egress-tunnel-node20/site.yaml"
  /usr/bin/node "$IDP_EGRESS_DIR/dist/src/cli/main.js" ca init --config "$RUN/idp-egress-tunnel-node20/site.yaml" >/dev/null
}
START="/usr/bin/node $IDP_EGRESS_DIR/dist/src/cli/main.js serve --config $RUN/idp-egress-tunnel-node20/site.yaml"
