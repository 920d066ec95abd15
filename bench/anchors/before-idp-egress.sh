# The build before a change, as a worktree built in /tmp/wt-base, for an A/B in one run
# (d1bef22 in issue 19's session 10, a280bea in session 17, aa01317 in session 18).
# The project under test, intercept mode (TLS terminated with its own CA, every request judged).
# Needs a built checkout at IDP_EGRESS_DIR (npm ci done, so dist/ is built).
NAME=idp-egress-before
MODE=bump
PORT=18150
CA="$RUN/idp-egress-before/ca.pem"
IDP_EGRESS_DIR=/tmp/wt-base
prepare() {
  mkdir -p "$RUN/idp-egress-before"
  render "$BENCH_DIR/project/idp-egress.yaml.tmpl" "$RUN/idp-egress-before/site.yaml"
  sed -i -e "s#@TLS@#intercept#" -e "s#@DIR@#$RUN/idp-egress-before#" "$RUN/idp-egress-before/site.yaml"
  ${IDP_NODE:-node} "$IDP_EGRESS_DIR/dist/src/cli/main.js" ca init --config "$RUN/idp-egress-before/site.yaml" >/dev/null
}
START="${IDP_NODE:-node} $IDP_EGRESS_DIR/dist/src/cli/main.js serve --config $RUN/idp-egress-before/site.yaml"
