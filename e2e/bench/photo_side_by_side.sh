#!/usr/bin/env bash
# photo_side_by_side.sh: real photos end to end, lcnet over HTTP next to
# sharp + ONNX Runtime in process, on the very same weights.
#
# Converts the golden PPLCNet_x1_0 checkpoint into a temporary store,
# exports it to ONNX, starts `lcnet serve` on a free loopback port, then for
# each photo runs ROUNDS rounds of photo_bench.mjs: lcnet with
# ?decode=exact, lcnet with ?decode=fast (raw image/jpeg bodies over a
# kept-alive connection), then sharp (shrink-on-load) + onnxruntime-node,
# each for DURATION seconds. It prints a markdown table of the medians over
# the rounds of each side's p50 and the paired ratios: the median over the
# rounds of each round's lcnet/ORT, whose three runs are seconds apart, so
# a shared machine's slow drifts touch both sides of a ratio alike.
#
# usage: e2e/bench/photo_side_by_side.sh [--rounds N] [--duration SECONDS]
#            [--warmup SECONDS] [--threads N] [--json FILE]
#            (--wallpapers [--install] | PHOTO.jpg...)
#
# --wallpapers times photographs from Debian's plasma-workspace-wallpapers
# (/usr/share/wallpapers) at about 0.3, 2, 4 and 15 Mpx, baseline and
# progressive; --install installs the package with apt-get when it is
# missing. Sizes the package lacks are derived from one of its photos, with
# djpeg/cjpeg or ImageMagick when installed, else with sharp (libvips'
# Lanczos resize, libjpeg-turbo's encoder); the table marks them.
#
# Environment: LCNET (a built lcnet binary; default: build ./cmd/lcnet),
# LCNET_FIXTURES (default: ../shared/fixtures beside the repository).
# Needs node and `npm ci --ignore-scripts` run in e2e/bench.
set -euo pipefail

rounds=3
duration=2
warmup=0.5
threads=2
json_out=""
wallpapers=0
install=0
photos=()

die() { echo "photo_side_by_side: $*" >&2; exit 2; }

while (($#)); do
	case "$1" in
	--rounds) rounds=${2:?}; shift 2 ;;
	--duration) duration=${2:?}; shift 2 ;;
	--warmup) warmup=${2:?}; shift 2 ;;
	--threads) threads=${2:?}; shift 2 ;;
	--json) json_out=${2:?}; shift 2 ;;
	--wallpapers) wallpapers=1; shift ;;
	--install) install=1; shift ;;
	-h | --help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown argument $1 (see --help)" ;;
	*) photos+=("$1"); shift ;;
	esac
done
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
fixtures=${LCNET_FIXTURES:-$(dirname "$root")/shared/fixtures}
# shellcheck source=lib.sh
source "$here/lib.sh"

check_timing "$rounds" "$duration" "$warmup" "$threads"
((wallpapers || ${#photos[@]})) || die "give PHOTO.jpg files or --wallpapers (see --help)"
((install == 0 || wallpapers)) || die "--install goes with --wallpapers"
for p in "${photos[@]}"; do [[ -f $p ]] || die "no such photo: $p"; done

ckpt=$fixtures/golden/PPLCNet_x1_0.pdparams
[[ -f $ckpt ]] || die "missing checkpoint $ckpt (set LCNET_FIXTURES)"

need_node_modules "$here" onnxruntime-node sharp

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lcnet-photo-side-by-side.XXXXXX")
server_pid=""
cleanup() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT


# derived[PATH]=how: the photos this script made rather than found.
declare -A derived=()

# The tool that resizes: djpeg/cjpeg, ImageMagick (not a stand-in of the
# same name), or sharp, which the comparison needs anyway.
resizer=sharp
if command -v djpeg >/dev/null && command -v cjpeg >/dev/null; then
	resizer=djpeg
elif command -v magick >/dev/null && magick -version 2>/dev/null | grep ImageMagick >/dev/null; then
	resizer=magick
elif command -v convert >/dev/null && convert -version 2>/dev/null | grep ImageMagick >/dev/null; then
	resizer=convert
fi

# derive SRC WxH PROGRESSIVE(0|1) OUT: write a resized copy of SRC to OUT.
# The sizes asked for are 1/4 and 3/4 of 2560x1600, which djpeg's M/8
# scaling reaches exactly.
derive() {
	local src=$1 size=$2 prog=$3 out=$4 w=${2%x*} sw m
	local interlace=()
	case $resizer in
	djpeg)
		sw=$(cd "$here" && node -e 'import("sharp").then(async ({ default: s }) => console.log((await s(process.argv[1]).metadata()).width))' "$src")
		m=$((w * 8 / sw))
		((m * sw == w * 8)) || die "djpeg cannot scale $src (width $sw) to width $w"
		((prog)) && interlace=(-progressive)
		djpeg -scale "$m/8" "$src" | cjpeg -quality 90 "${interlace[@]}" >"$out"
		derived[$out]="djpeg -scale $m/8 | cjpeg -quality 90 ${interlace[*]}"
		;;
	magick | convert)
		((prog)) && interlace=(-interlace JPEG)
		"$resizer" "$src" -resize "$size!" -quality 90 "${interlace[@]}" "$out"
		derived[$out]="ImageMagick -resize $size! -quality 90 ${interlace[*]}"
		;;
	*)
		(cd "$here" && node -e '
import("sharp").then(async ({ default: sharp }) => {
	const [src, w, h, prog, out] = process.argv.slice(1);
	await sharp(src).resize(+w, +h, { fit: "fill", kernel: "lanczos3" })
		.jpeg({ quality: 90, progressive: prog === "1", chromaSubsampling: "4:2:0" }).toFile(out);
}).catch((e) => { console.error(e.message); process.exit(1); });' "$src" "$w" "${size#*x}" "$prog" "$out")
		local kind=baseline
		((prog)) && kind=progressive
		derived[$out]="sharp resize ${size} (Lanczos 3) | jpeg quality 90 4:2:0 $kind"
		;;
	esac
	derived[$out]="${derived[$out]% } of $src"
}

if ((wallpapers)); then
	wp=/usr/share/wallpapers
	if ! dpkg -s plasma-workspace-wallpapers >/dev/null 2>&1; then
		((install)) || die "plasma-workspace-wallpapers is not installed: add --install, or run apt-get install plasma-workspace-wallpapers"
		echo "installing plasma-workspace-wallpapers ..." >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends plasma-workspace-wallpapers >&2
	fi
	# Real photographs of the package (Debian bookworm, 4:5.27.5), by size:
	# baseline 4:2:0 and progressive 4:4:4 at 2560x1600 and 5120x2880, and
	# a baseline 4:2:2 portrait at 1080x1920. 0.3 Mpx and a progressive
	# 2 Mpx are not in it; they are derived from the 2560x1600 ones.
	base4=$wp/BytheWater/contents/images/2560x1600.jpg
	prog4=$wp/Autumn/contents/images/2560x1600.jpg
	for f in "$base4" "$prog4" "$wp/Honeywave/contents/images/1080x1920.jpg" \
		"$wp/SafeLanding/contents/images/5120x2880.jpg" "$wp/Volna/contents/images/5120x2880.jpg"; do
		[[ -f $f ]] || die "$f is missing from plasma-workspace-wallpapers"
	done
	mkdir -p "$tmp/derived"
	derive "$base4" 640x400 0 "$tmp/derived/BytheWater_640x400.jpg"
	photos+=("$tmp/derived/BytheWater_640x400.jpg")
	derive "$prog4" 640x400 1 "$tmp/derived/Autumn_640x400_progressive.jpg"
	photos+=("$tmp/derived/Autumn_640x400_progressive.jpg")
	photos+=("$wp/Honeywave/contents/images/1080x1920.jpg")
	derive "$prog4" 1920x1200 1 "$tmp/derived/Autumn_1920x1200_progressive.jpg"
	photos+=("$tmp/derived/Autumn_1920x1200_progressive.jpg")
	photos+=("$base4" "$prog4" "$wp/SafeLanding/contents/images/5120x2880.jpg" "$wp/Volna/contents/images/5120x2880.jpg")
fi

lcnet_binary "$root" "$tmp"
store=$tmp/store
model=PPLCNet_x1_0
echo "converting and exporting $model ..." >&2
"$lcnet" convert "$ckpt" --name "$model" --store "$store" >/dev/null
"$lcnet" export --model "$model" --format onnx --out "$tmp/$model.onnx" --store "$store" >/dev/null

# Port 0: the kernel picks a free port and the server logs the address it got.
: >"$tmp/serve.log"
"$lcnet" serve --addr 127.0.0.1:0 --store "$store" --threads "$threads" --log-format text 2>"$tmp/serve.log" &
server_pid=$!
url=""
for _ in $(seq 100); do
	addr=$(sed -n 's/.*msg=listening addr=\([^ ]*\).*/\1/p' "$tmp/serve.log")
	if [[ -n $addr ]]; then url=http://$addr; break; fi
	kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; die "lcnet serve exited"; }
	sleep 0.1
done
[[ -n $url ]] || { cat "$tmp/serve.log" >&2; die "lcnet serve did not report its address in 10 s"; }
echo "lcnet serve on $url" >&2

# describe PHOTO: WxH, baseline or progressive, chroma subsampling (from
# the frame header: sharp's metadata tells only 4:2:0 from 4:4:4), Mpx.
describe() {
	# shellcheck disable=SC2016
	node -e 'const d = require("fs").readFileSync(process.argv[1]);
		const bad = (why) => { console.error(`photo_side_by_side: ${process.argv[1]}: ${why}`); process.exit(1); };
		if (d[0] !== 0xff || d[1] !== 0xd8) bad("not a JPEG");
		for (let i = 2; i + 9 < d.length;) {
			if (d[i] !== 0xff) bad("bad marker");
			const m = d[i + 1], len = d.readUInt16BE(i + 2);
			if (m === 0xc0 || m === 0xc1 || m === 0xc2) {
				const h = d.readUInt16BE(i + 5), w = d.readUInt16BE(i + 7), n = d[i + 9], s = d[i + 11];
				const sub = n === 1 ? "gray" : n === 4 ? "CMYK" :
					({ 0x11: "4:4:4", 0x21: "4:2:2", 0x22: "4:2:0", 0x12: "4:4:0", 0x41: "4:1:1" })[s] ?? `${s >> 4}x${s & 15}`;
				console.log([`${w}x${h}`, m === 0xc2 ? "progressive" : "baseline", sub, (w * h / 1e6).toFixed(2)].join("\t"));
				process.exit(0);
			}
			i += 2 + len;
		}
		bad("no baseline or progressive frame header");' "$1"
}

version() { node -p "require(process.argv[1]).version" "$here/node_modules/$1/package.json"; }
bench() { node "$here/photo_bench.mjs" --threads "$threads" --duration "$duration" --warmup "$warmup" "$@"; }

rows=()
raw=()
notes=()
for p in "${photos[@]}"; do
	info=$(describe "$p")
	IFS=$'\t' read -r size kind chroma mpx <<<"$info"
	name=$(basename "$p")
	# A wallpaper is named by its package directory: every one's files
	# are called WxH.jpg.
	[[ $p == /usr/share/wallpapers/*/contents/images/* ]] &&
		name=$(basename "$(dirname "$(dirname "$(dirname "$p")")")")/$name
	if [[ -n ${derived[$p]:-} ]]; then
		name="$name (derived)"
		notes+=("- $(basename "$p"): ${derived[$p]}")
	fi
	echo "timing $name ($size $kind $chroma, $rounds rounds of lcnet exact, lcnet fast, sharp+ORT, ${duration}s each) ..." >&2
	es=() fs=() os=()
	for ((r = 0; r < rounds; r++)); do
		es+=("$(bench --server "$url" --model "$model" --decode exact "$p")")
		fs+=("$(bench --server "$url" --model "$model" --decode fast "$p")")
		os+=("$(bench --onnx "$tmp/$model.onnx" "$p")")
	done
	ej=$(median "${es[@]}")
	fj=$(median "${fs[@]}")
	oj=$(median "${os[@]}")
	# shellcheck disable=SC2016
	pj=$(node -e "$js_median"'const [n, ...rs] = process.argv.slice(1), k = Number(n);
		const [e, f, o] = [0, 1, 2].map((i) => rs.slice(i * k, (i + 1) * k).map((x) => JSON.parse(x)));
		console.log(JSON.stringify({
			exact_ratio: med(e.map((r, i) => r.p50_ms / o[i].p50_ms)),
			fast_ratio: med(f.map((r, i) => r.p50_ms / o[i].p50_ms)),
		}));' "$rounds" "${es[@]}" "${fs[@]}" "${os[@]}")
	# shellcheck disable=SC2016
	raw+=("$(node -e 'const [p, size, kind, chroma, mpx, e, f, o, pr, n, ...rs] = process.argv.slice(1), k = Number(n);
		const each = rs.slice(0, k).map((x, i) => ({ exact: JSON.parse(x), fast: JSON.parse(rs[k + i]), ort: JSON.parse(rs[2 * k + i]) }));
		console.log(JSON.stringify({ photo: p, size, kind, chroma, mpx: Number(mpx),
			exact: JSON.parse(e), fast: JSON.parse(f), ort: JSON.parse(o), paired: JSON.parse(pr), rounds: each }));' \
		"$p" "$size" "$kind" "$chroma" "$mpx" "$ej" "$fj" "$oj" "$pj" "$rounds" "${es[@]}" "${fs[@]}" "${os[@]}")")
	IFS=$'\t' read -r e50 etop < <(field "$ej" p50_ms top1)
	IFS=$'\t' read -r f50 ftop < <(field "$fj" p50_ms top1)
	IFS=$'\t' read -r o50 otop < <(field "$oj" p50_ms top1)
	IFS=$'\t' read -r er fr < <(field "$pj" exact_ratio fast_ratio)
	rows+=("$(awk -v n="$name" -v s="$size" -v k="$kind $chroma" -v m="$mpx" -v e="$e50" -v f="$f50" -v o="$o50" \
		-v er="$er" -v fr="$fr" -v t="$etop / $ftop / $otop" 'BEGIN {
		printf "| %s | %s | %s | %s | %.1f | %.1f | %.1f | %.2f | %.2f | %s |", n, s, k, m, e, f, o, er, fr, t }')")
done

echo
echo "PPLCNet_x1_0 end to end: lcnet serve (HTTP, raw image/jpeg, kept-alive, --threads $threads) vs sharp $(version sharp) + onnxruntime-node $(version onnxruntime-node) in process ($threads threads), medians of $rounds alternating rounds of ${duration}s per side, $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
echo
echo "| photo | size | kind | Mpx | lcnet exact p50 ms | lcnet fast p50 ms | sharp+ORT p50 ms | paired exact/ORT | paired fast/ORT | top-1 exact / fast / ORT |"
echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
printf '%s\n' "${rows[@]}"
echo
echo "The paired ratios are medians over the rounds of each round's lcnet p50 / sharp+ORT p50: below 1, lcnet is faster."
if ((${#notes[@]})); then
	echo "Derived photos (the package has no photo of that size):"
	printf '%s\n' "${notes[@]}"
fi
if [[ -n $json_out ]]; then
	printf '%s\n' "${raw[@]}" >"$json_out"
	echo "raw results: $json_out" >&2
fi
