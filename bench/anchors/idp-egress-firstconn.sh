# The project under test, intercept mode, for the harness's first-connection test as well: the
# harness times fresh connections to h1..h150.graph.test (its /etc/hosts block), which no pack
# names, so this definition adds them as a site provider (docs/policy.md, "Site endpoints") with
# the one path the test asks for. Copy it into the harness's project/ folder beside idp-egress.sh.
NAME=idp-egress-firstconn
MODE=bump
PORT=18170
CA="$RUN/idp-egress-firstconn/ca.pem"
IDP_EGRESS_DIR="${IDP_EGRESS_DIR:?set IDP_EGRESS_DIR to a built idp-egress checkout}"
prepare() {
  local dir="$RUN/idp-egress-firstconn" hosts urls i
  mkdir -p "$dir"
  render "$BENCH_DIR/project/idp-egress.yaml.tmpl" "$dir/site.yaml"
  hosts=$(for ((i = 1; i <= FIRSTCONN_MAX; i++)); do printf 'h%d.graph.test, ' "$i"; done)
  sed -i -e "s#@TLS@#intercept#" -e "s#@DIR@#$dir#" -e "s#allowPrivate: \[#allowPrivate: [${hosts}#" "$dir/site.yaml"
  urls=$(for ((i = 1; i <= FIRSTCONN_MAX; i++)); do printf '          - https://h%d.graph.test/v1.0/users/{id}/manager\n' "$i"; done)
  printf 'siteProviders:\n  first-connection-test:\n    title: the harness'"'"'s first-connection hosts\n    endpoints:\n      - id: site.firstconn.manager\n        methods: [GET]\n        variables: { id: segment }\n        reason: the harness times fresh connections to these hosts\n        urls:\n%s\n' "$urls" >> "$dir/site.yaml"
  ${IDP_NODE:-node} "$IDP_EGRESS_DIR/dist/src/cli/main.js" ca init --config "$dir/site.yaml" >/dev/null
}
START="${IDP_NODE:-node} $IDP_EGRESS_DIR/dist/src/cli/main.js serve --config $RUN/idp-egress-firstconn/site.yaml"
