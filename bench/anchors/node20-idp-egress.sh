# The project under test, intercept mode (TLS terminated with its own CA, every request judged).
# Needs a built checkout at IDP_EGRESS_DIR (npm ci done, so dist/ is built).
NAME=idp-egress-node20
MODE=bump
PORT=18150
CA="$RUN/idp-egress-node20/ca.pem"
IDP_EGRESS_DIR=/tmp/wt-node20
prepare() {
  mkdir -p "$RUN/idp-egress-node20"
  render "$BENCH_DIR/project/idp-egress.yaml.tmpl" "$RUN/idp-egress-node20/site.yaml"
  sed -i -e "s#@TLS@#intercept#" -e "s#@DIR@#$RUN/idp-egress-node20#" "$RUN/idp-egress-node20/site.yaml"
  /usr/bin/node "$IDP_EGRESS_DIR/dist/src/cli/main.js" ca init --config "$RUN/idp-egress-node20/site.yaml" >/dev/null
}
START="/usr/bin/node $IDP_EGRESS_DIR/dist/src/cli/main.js serve --config $RUN/idp-egress-node20/site.yaml"
