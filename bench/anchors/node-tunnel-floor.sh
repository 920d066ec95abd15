# The tunnel floor (bench/tunnel-floor.ts): node:http's CONNECT, pipe() one way and the gateway's
# relay the other, nothing of the gateway's own work. Started with the gateway's node options
# (src/core/gc-tuning.ts). Needs a built checkout at IDP_EGRESS_DIR.
NAME=node-tunnel-floor
MODE=tunnel
PORT=18143
CA="$UPSTREAM_CA"
IDP_EGRESS_DIR="${IDP_EGRESS_DIR:?set IDP_EGRESS_DIR to a built idp-egress checkout}"
START="${IDP_NODE:-node} --max-semi-space-size=32 --min-semi-space-size=32 --initial-old-space-size=64 $IDP_EGRESS_DIR/dist/bench/tunnel-floor.js $UPSTREAM_ADDR 443 $PORT"
