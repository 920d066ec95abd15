# The build before a change, as a worktree built in /tmp/wt-base, for an A/B in one run
# (d1bef22 in issue 19's session 10, a280bea in session 17).
# The project under test, tunnel mode (host and SNI checked, then bytes spliced).
# Needs a built checkout at IDP_EGRESS_DIR (npm ci done, so dist/ is built).
NAME=idp-egress-tunnel-before
MODE=tunnel
PORT=18151
CA="$UPSTREAM_CA"
IDP_EGRESS_DIR=/tmp/wt-base
prepare() {
  mkdir -p "$RUN/idp-egress-tunnel-before"
  render "$BENCH_DIR/project/idp-egress.yaml.tmpl" "$RUN/idp-egress-tunnel-before/site.yaml"
  sed -i -e "s#@TLS@#tunnel#" -e "s#@DIR@#$RUN/idp-egress-tunnel-before#" "$RUN/idp-egress-tunnel-before/site.yaml"
  ${IDP_NODE:-node} "$IDP_EGRESS_DIR/dist/src/cli/main.js" ca init --config "$RUN/idp-egress-tunnel-before/site.yaml" >/dev/null
}
START="${IDP_NODE:-node} $IDP_EGRESS_DIR/dist/src/cli/main.js serve --config $RUN/idp-egress-tunnel-before/site.yaml"
