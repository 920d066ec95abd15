# The intercept floor (bench/floor-proxy.ts): node:http inside a TLSSocket and an undici Agent,
# nothing of the gateway's own work. It presents the fake internet's own leaf (gen/upstream), so
# the client trusts it through the upstream CA. Started with the gateway's node options
# (src/core/gc-tuning.ts), so the two differ in work only. Needs a built checkout at IDP_EGRESS_DIR.
NAME=node-floor
MODE=bump
PORT=18142
CA="$UPSTREAM_CA"
IDP_EGRESS_DIR="${IDP_EGRESS_DIR:?set IDP_EGRESS_DIR to a built idp-egress checkout}"
START="${IDP_NODE:-node} --max-semi-space-size=32 --min-semi-space-size=32 --initial-old-space-size=64 $IDP_EGRESS_DIR/dist/bench/floor-proxy.js $GEN/upstream/server.key $GEN/upstream/server.crt $UPSTREAM_CA 443 $UPSTREAM_ADDR $PORT"
