#!/usr/bin/env bash
# side_by_side.sh: lcnet and ONNX Runtime on the very same weights.
#
# Converts the golden PP-LCNet checkpoints into a temporary store, exports
# each to ONNX with `lcnet export`, then times every (scale, batch) pair with
# `lcnet bench --json` and with ort_bench.mjs (onnxruntime-node, CPU,
# intraOpNumThreads=THREADS, interOpNumThreads=1, graph optimization 'all'),
# back to back, and prints a markdown table with the ratios lcnet/ORT.
#
# usage: e2e/bench/side_by_side.sh [--duration SECONDS] [--warmup SECONDS]
#            [--threads N] [--size HxW] [--scales "0_25 0_5 1_0 2_5"]
#            [--batches "1 8"] [--json FILE]
#
# Environment: LCNET (a built lcnet binary; default: build ./cmd/lcnet),
# LCNET_FIXTURES (default: ../shared/fixtures beside the repository).
# Needs node and `npm ci --ignore-scripts` run in e2e/bench.
set -euo pipefail

duration=10
warmup=1
threads=2
size=224x224
scales="0_25 0_5 1_0 2_5"
batches="1 8"
json_out=""

die() { echo "side_by_side: $*" >&2; exit 2; }

while (($#)); do
	case "$1" in
	--duration) duration=${2:?}; shift 2 ;;
	--warmup) warmup=${2:?}; shift 2 ;;
	--threads) threads=${2:?}; shift 2 ;;
	--size) size=${2:?}; shift 2 ;;
	--scales) scales=${2:?}; shift 2 ;;
	--batches) batches=${2:?}; shift 2 ;;
	--json) json_out=${2:?}; shift 2 ;;
	-h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
[[ $duration =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--duration $duration: want seconds"
[[ $warmup =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--warmup $warmup: want seconds"
[[ $threads =~ ^[1-9][0-9]*$ ]] || die "--threads $threads: want a positive integer"
[[ $size =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]] || die "--size $size: want HxW"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
fixtures=${LCNET_FIXTURES:-$(dirname "$root")/shared/fixtures}

command -v node >/dev/null || die "node is not on PATH"
[[ -d $here/node_modules/onnxruntime-node ]] ||
	die "onnxruntime-node is missing: run (cd $here && npm ci --ignore-scripts)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lcnet-side-by-side.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

lcnet=${LCNET:-}
if [[ -z $lcnet ]]; then
	echo "building lcnet ..." >&2
	(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$tmp/lcnet" ./cmd/lcnet)
	lcnet=$tmp/lcnet
fi
[[ -x $lcnet ]] || die "LCNET=$lcnet is not an executable"
store=$tmp/store

# field JSON NAME...: print the named fields of a JSON object, tab-separated.
# The script is JavaScript in single quotes on purpose: nothing in it is for bash.
field() {
	# shellcheck disable=SC2016
	node -e 'const o = JSON.parse(process.argv[1]);
		const v = process.argv.slice(2).map((k) => {
			if (!(k in o)) { console.error(`side_by_side: no "${k}" in ${process.argv[1]}`); process.exit(1); }
			return o[k];
		});
		console.log(v.join("\t"));' "$@"
}

rows=()
raw=()
for s in $scales; do
	name=PPLCNet_x$s
	ckpt=$fixtures/golden/$name.pdparams
	[[ -f $ckpt ]] || die "missing checkpoint $ckpt (set LCNET_FIXTURES)"
	echo "converting and exporting $name ..." >&2
	"$lcnet" convert "$ckpt" --name "$name" --store "$store" >/dev/null
	"$lcnet" export --model "$name" --format onnx --out "$tmp/$name.onnx" --store "$store" >/dev/null
	for b in $batches; do
		echo "timing $name batch $b (lcnet, then ORT; ${duration}s each) ..." >&2
		lj=$("$lcnet" bench --model "$name" --batch "$b" --threads "$threads" --size "$size" \
			--duration "${duration}s" --warmup "${warmup}s" --json --store "$store")
		oj=$(node "$here/ort_bench.mjs" --model "$tmp/$name.onnx" --batch "$b" --threads "$threads" \
			--size "$size" --duration "$duration" --warmup "$warmup" --json)
		# One JSON object per line (lcnet prints its JSON indented).
		raw+=("$(node -e 'const [s, b, l, o] = process.argv.slice(1);
			console.log(JSON.stringify({ scale: s, batch: Number(b), lcnet: JSON.parse(l), ort: JSON.parse(o) }));' \
			"$s" "$b" "$lj" "$oj")")
		IFS=$'\t' read -r l50 l90 l99 lips impl < <(field "$lj" p50_ms p90_ms p99_ms images_per_sec impl)
		IFS=$'\t' read -r o50 o90 o99 oips ortv < <(field "$oj" p50_ms p90_ms p99_ms images_per_sec runtime)
		rows+=("$(awk -v s="$s" -v b="$b" -v l50="$l50" -v l90="$l90" -v l99="$l99" -v lips="$lips" \
			-v o50="$o50" -v o90="$o90" -v o99="$o99" -v oips="$oips" 'BEGIN {
			printf "| x%s | %d | %.2f / %.2f / %.2f | %.1f | %.2f / %.2f / %.2f | %.1f | %.2f | %.2f |",
				s, b, l50, l90, l99, lips, o50, o90, o99, oips, l50 / o50, lips / oips }')")
	done
done

echo
echo "lcnet ($impl kernels) vs $ortv, $size, $threads threads, ${duration}s per measurement, $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
echo
echo "| scale | batch | lcnet p50 / p90 / p99 ms | lcnet img/s | ORT p50 / p90 / p99 ms | ORT img/s | p50 lcnet/ORT | img/s lcnet/ORT |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "p50 lcnet/ORT below 1 means lcnet is faster; img/s lcnet/ORT above 1 means lcnet has the higher throughput."
if [[ -n $json_out ]]; then
	printf '%s\n' "${raw[@]}" >"$json_out"
	echo "raw results: $json_out" >&2
fi
