#!/usr/bin/env bash
# side_by_side.sh: lcnet and ONNX Runtime on the very same weights.
#
# Converts the golden PP-LCNet checkpoints into a temporary store, exports
# each to ONNX with `lcnet export`, then times every (scale, batch) pair with
# `lcnet bench --json` and with ort_bench.mjs (onnxruntime-node, CPU,
# intraOpNumThreads=THREADS, interOpNumThreads=1, graph optimization 'all'),
# alternating in ROUNDS rounds of DURATION/ROUNDS seconds each, and prints
# a markdown table of the medians over the rounds with the ratios lcnet/ORT
# of those medians and, paired, the medians of each round's ratio.
# Alternating lets both sides sample the same slow drifts of a shared
# machine's speed instead of one side getting a quiet stretch.
#
# usage: e2e/bench/side_by_side.sh [--duration SECONDS] [--rounds N]
#            [--warmup SECONDS] [--threads N] [--size HxW]
#            [--scales "0_25 0_5 1_0 2_5"] [--batches "1 8"] [--json FILE]
#
# Environment: LCNET (a built lcnet binary; default: build ./cmd/lcnet),
# LCNET_FIXTURES (default: ../shared/fixtures beside the repository).
# Needs node and `npm ci --ignore-scripts` run in e2e/bench.
set -euo pipefail

duration=10
rounds=3
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
	--rounds) rounds=${2:?}; shift 2 ;;
	--warmup) warmup=${2:?}; shift 2 ;;
	--threads) threads=${2:?}; shift 2 ;;
	--size) size=${2:?}; shift 2 ;;
	--scales) scales=${2:?}; shift 2 ;;
	--batches) batches=${2:?}; shift 2 ;;
	--json) json_out=${2:?}; shift 2 ;;
	-h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
fixtures=${LCNET_FIXTURES:-$(dirname "$root")/shared/fixtures}
# shellcheck source=lib.sh
source "$here/lib.sh"

check_timing "$rounds" "$duration" "$warmup" "$threads"
[[ $size =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]] || die "--size $size: want HxW"
need_node_modules "$here" onnxruntime-node

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lcnet-side-by-side.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

lcnet_binary "$root" "$tmp"
store=$tmp/store


per=$(awk -v d="$duration" -v r="$rounds" 'BEGIN { printf "%.3f", d / r }')
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
		echo "timing $name batch $b ($rounds rounds of lcnet then ORT, ${per}s each) ..." >&2
		ls=() os=()
		for ((r = 0; r < rounds; r++)); do
			ls+=("$("$lcnet" bench --model "$name" --batch "$b" --threads "$threads" --size "$size" \
				--duration "${per}s" --warmup "${warmup}s" --json --store "$store")")
			os+=("$(node "$here/ort_bench.mjs" --model "$tmp/$name.onnx" --batch "$b" --threads "$threads" \
				--size "$size" --duration "$per" --warmup "$warmup" --json)")
		done
		lj=$(median "${ls[@]}")
		oj=$(median "${os[@]}")
		# One JSON object per line: the medians, every round, and the
		# paired ratios: the median over rounds of each round's lcnet/ORT.
		# A round's two runs are seconds apart, so a paired ratio sees the
		# same state of the host on both sides even while its load drifts.
		# shellcheck disable=SC2016
		pj=$(node -e "$js_median"'const [n, ...rs] = process.argv.slice(1), k = Number(n);
			const l = rs.slice(0, k).map((x) => JSON.parse(x)), o = rs.slice(k).map((x) => JSON.parse(x));
			console.log(JSON.stringify({
				p50_ratio: med(l.map((r, i) => r.p50_ms / o[i].p50_ms)),
				images_per_sec_ratio: med(l.map((r, i) => r.images_per_sec / o[i].images_per_sec)),
			}));' "$rounds" "${ls[@]}" "${os[@]}")
		raw+=("$(node -e 'const [s, b, l, o, p, n, ...rs] = process.argv.slice(1);
			const k = Number(n), each = rs.slice(0, k).map((x, i) => ({ lcnet: JSON.parse(x), ort: JSON.parse(rs[k + i]) }));
			console.log(JSON.stringify({ scale: s, batch: Number(b), lcnet: JSON.parse(l), ort: JSON.parse(o), paired: JSON.parse(p), rounds: each }));' \
			"$s" "$b" "$lj" "$oj" "$pj" "$rounds" "${ls[@]}" "${os[@]}")")
		IFS=$'\t' read -r l50 l90 l99 lips impl < <(field "$lj" p50_ms p90_ms p99_ms images_per_sec impl)
		IFS=$'\t' read -r o50 o90 o99 oips ortv < <(field "$oj" p50_ms p90_ms p99_ms images_per_sec runtime)
		IFS=$'\t' read -r pr50 prips < <(field "$pj" p50_ratio images_per_sec_ratio)
		rows+=("$(awk -v s="$s" -v b="$b" -v l50="$l50" -v l90="$l90" -v l99="$l99" -v lips="$lips" \
			-v o50="$o50" -v o90="$o90" -v o99="$o99" -v oips="$oips" -v pr50="$pr50" -v prips="$prips" 'BEGIN {
			printf "| x%s | %d | %.2f / %.2f / %.2f | %.1f | %.2f / %.2f / %.2f | %.1f | %.2f | %.2f | %.2f | %.2f |",
				s, b, l50, l90, l99, lips, o50, o90, o99, oips, l50 / o50, lips / oips, pr50, prips }')")
	done
done

echo
echo "lcnet ($impl kernels) vs $ortv, $size, $threads threads, medians of $rounds alternating rounds of ${per}s each, $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
echo
echo "| scale | batch | lcnet p50 / p90 / p99 ms | lcnet img/s | ORT p50 / p90 / p99 ms | ORT img/s | p50 lcnet/ORT | img/s lcnet/ORT | paired p50 lcnet/ORT | paired img/s lcnet/ORT |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "p50 lcnet/ORT below 1 means lcnet is faster; img/s lcnet/ORT above 1 means lcnet has the higher throughput."
echo "The ratios are of the medians; the paired ones are medians of each round's ratio."
if [[ -n $json_out ]]; then
	printf '%s\n' "${raw[@]}" >"$json_out"
	echo "raw results: $json_out" >&2
fi
