#!/usr/bin/env bash
# Builds SeaweedFS' weed from the Go module proxy and runs it as an S3
# server on loopback, for lcnet's S3 store tests and for trying
# --store s3://... by hand.
#
#   e2e/s3/start-weed.sh build   # build (once) and print the binary's path
#   e2e/s3/start-weed.sh start   # build, start, create the bucket, print exports
#   e2e/s3/start-weed.sh stop    # stop the server this script started
#
# `go install .../weed@VERSION` is refused (seaweedfs' go.mod has replace
# directives), so the module is downloaded and built as a main module.
# Environment: WEED_VERSION, WEED_BIN (where the binary goes), WEED_DIR
# (data and pid file), WEED_PORT (S3 port, default 8333; master, volume and
# filer take WEED_PORT+1..3 and each of those +10000 for gRPC), WEED_BUCKET.
set -euo pipefail

VERSION=${WEED_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}
BIN=${WEED_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/lcnet/weed-$VERSION}
DIR=${WEED_DIR:-${TMPDIR:-/tmp}/lcnet-weed}
PORT=${WEED_PORT:-8333}
BUCKET=${WEED_BUCKET:-lcnet}
ACCESS=${AWS_ACCESS_KEY_ID:-lcnet-dev}
SECRET=${AWS_SECRET_ACCESS_KEY:-lcnet-dev-secret}

build() {
	if [[ -x $BIN ]]; then
		echo "$BIN"
		return
	fi
	# Concurrent invocations wait for one build instead of clobbering it.
	mkdir -p "$DIR" "$(dirname "$BIN")"
	exec 9>"$DIR/build.lock"
	flock 9
	if [[ -x $BIN ]]; then
		echo "$BIN"
		return
	fi
	local src work start
	src=$(go mod download -json "github.com/seaweedfs/seaweedfs@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[[ -n $src ]] || { echo "start-weed: could not download seaweedfs@$VERSION" >&2; exit 1; }
	# A fixed build directory lets a rebuild reuse Go's build cache.
	work=$DIR/src
	rm -rf "$work"
	mkdir -p "$work"
	cp -r "$src/." "$work"
	chmod -R u+w "$work"
	start=$(date +%s)
	echo "start-weed: building weed $VERSION (several minutes on a small machine)" >&2
	(cd "$work" && go build -o "$BIN.tmp.$$" ./weed)
	mv "$BIN.tmp.$$" "$BIN"
	echo "start-weed: built in $(($(date +%s) - start)) s" >&2
	echo "$BIN"
}

start() {
	local bin pid
	bin=$(build)
	mkdir -p "$DIR/data"
	if [[ -f $DIR/weed.pid ]] && kill -0 "$(cat "$DIR/weed.pid")" 2>/dev/null; then
		echo "start-weed: already running (pid $(cat "$DIR/weed.pid"))" >&2
	else
		cat >"$DIR/s3.json" <<JSON
{"identities":[{"name":"lcnet","credentials":[{"accessKey":"$ACCESS","secretKey":"$SECRET"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
		setsid "$bin" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$DIR/data" \
			-master.port=$((PORT + 1)) -master.telemetry=false -master.volumeSizeLimitMB=64 \
			-volume.port=$((PORT + 2)) -volume.max=8 \
			-filer -filer.port=$((PORT + 3)) \
			-s3 -s3.port="$PORT" -s3.config="$DIR/s3.json" \
			>"$DIR/weed.log" 2>&1 </dev/null &
		pid=$!
		echo "$pid" >"$DIR/weed.pid"
	fi
	# The bucket can be created once master and filer are up; the S3
	# gateway answers shortly after.
	for _ in $(seq 1 240); do
		if echo "s3.bucket.create -name $BUCKET" | "$bin" shell -master=127.0.0.1:$((PORT + 1)) 2>&1 | grep -qiE "created|exist"; then
			if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
				cat <<ENV
export AWS_ACCESS_KEY_ID=$ACCESS AWS_SECRET_ACCESS_KEY=$SECRET
export LCNET_S3_ENDPOINT=http://127.0.0.1:$PORT
export LCNET_STORE='s3://$BUCKET/models?endpoint=http://127.0.0.1:$PORT&region=us-east-1'
ENV
				return
			fi
		fi
		sleep 0.5
	done
	echo "start-weed: not ready after 120 s; see $DIR/weed.log" >&2
	tail -20 "$DIR/weed.log" >&2
	exit 1
}

stop() {
	[[ -f $DIR/weed.pid ]] || return 0
	local pid
	pid=$(cat "$DIR/weed.pid")
	kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
	# weed can ignore SIGTERM for a long while; give it 10 s.
	for _ in $(seq 1 20); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	kill -KILL -- -"$pid" 2>/dev/null || true
	rm -f "$DIR/weed.pid"
}

case ${1:-start} in
build) build ;;
start) start ;;
stop) stop ;;
*) echo "usage: $0 build|start|stop" >&2; exit 2 ;;
esac
