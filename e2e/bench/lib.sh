# lib.sh: helpers side_by_side.sh and photo_side_by_side.sh share.
# Source it after defining die; field and median need node on PATH.
# shellcheck shell=bash

# check_timing ROUNDS DURATION WARMUP THREADS: the options both scripts
# take, or die naming the bad one.
check_timing() {
	[[ $1 =~ ^[1-9][0-9]*$ ]] || die "--rounds $1: want a positive integer"
	[[ $2 =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--duration $2: want seconds"
	[[ $3 =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--warmup $3: want seconds"
	[[ $4 =~ ^[1-9][0-9]*$ ]] || die "--threads $4: want a positive integer"
}

# need_node_modules DIR MODULE...: node on PATH and each npm MODULE
# installed in DIR, or die saying how to install them.
need_node_modules() {
	local dir=$1 m
	shift
	command -v node >/dev/null || die "node is not on PATH"
	for m in "$@"; do
		[[ -d $dir/node_modules/$m ]] || die "$m is missing: run (cd $dir && npm ci --ignore-scripts)"
	done
}

# lcnet_binary ROOT TMP: sets lcnet to $LCNET, else to an lcnet built from
# ROOT into TMP.
lcnet_binary() {
	lcnet=${LCNET:-}
	if [[ -z $lcnet ]]; then
		echo "building lcnet ..." >&2
		(cd "$1" && CGO_ENABLED=0 go build -trimpath -o "$2/lcnet" ./cmd/lcnet)
		lcnet=$2/lcnet
	fi
	[[ -x $lcnet ]] || die "LCNET=$lcnet is not an executable"
}

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

# js_median defines med(numbers) for the JavaScript below.
# shellcheck disable=SC2016
js_median='const med = (v) => { v = [...v].sort((x, y) => x - y); const n = v.length;
	return n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2; };'

# median JSON...: the first object with p50/p90/p99/mean latency and images
# per second replaced by their medians over all the objects, and iterations
# by their sum.
median() {
	# shellcheck disable=SC2016
	node -e "$js_median"'const a = process.argv.slice(1).map((s) => JSON.parse(s));
		const o = { ...a[0] };
		for (const k of ["p50_ms", "p90_ms", "p99_ms", "mean_ms", "images_per_sec"]) if (k in o) o[k] = med(a.map((x) => x[k]));
		if ("iterations" in o) o.iterations = a.reduce((n, x) => n + x.iterations, 0);
		o.rounds = a.length;
		console.log(JSON.stringify(o));' "$@"
}

