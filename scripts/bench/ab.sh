#!/usr/bin/env bash
# Old code against new on this machine, for bench:issue (docs/performance.md): `bash scripts/bench/ab.sh
# <old-rev> <sqlite|postgres> <batch|est> [pairs]`. The old revision is built in a worktree beside this
# checkout; this checkout must be built (`npm run build`). Runs alternate which side goes first (ABBA):
# on this shared VM the second of two back-to-back runs tends to be the slower one, so a fixed order
# biases the comparison. Prints each run, then the medians of certificates/s and server CPU per
# certificate for each side.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
old_rev="${1:?old revision}"
db="${2:?sqlite or postgres}"
bench_path="${3:?batch or est}"
pairs="${4:-4}"
new_dir="$PWD"
old_dir="$(mktemp -d /tmp/hallmark-ab-XXXXXX)"
trap 'git -C "$new_dir" worktree remove --force "$old_dir" >/dev/null 2>&1 || rm -rf "$old_dir"' EXIT

git worktree add --detach -f "$old_dir" "$old_rev" >/dev/null
ln -s "$new_dir/node_modules" "$old_dir/node_modules"
mkdir -p "$old_dir/native/build" && cp -r "$new_dir/native/build/." "$old_dir/native/build/"
(cd "$old_dir" && npx tsc -p .)

results="$(mktemp)"
run() { # side dir
  (cd "$2" && node dist/scripts/bench/issue.js --child --db "$db" --paths "$bench_path" --est-seconds 8 2>/dev/null) |
    node -e '
      let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
        const r = JSON.parse(s); const raw = Math.max(r.rawBefore, r.rawAfter);
        for (const x of r.runs) console.log([process.argv[1], (x.run.issued / x.run.seconds).toFixed(0), ((x.run.serverCpuSeconds * 1e6) / x.run.issued).toFixed(0), raw.toFixed(0)].join(" "));
      });' "$1" | tee -a "$results"
}
echo "side certs/s server-µs/cert raw-sign/s"
for i in $(seq 1 "$pairs"); do
  if [ $((i % 2)) -eq 1 ]; then run old "$old_dir"; run new "$new_dir"; else run new "$new_dir"; run old "$old_dir"; fi
done
node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split(" "));
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
  for (const side of ["old", "new"]) {
    const mine = rows.filter((r) => r[0] === side);
    console.log(`${side}: median ${median(mine.map((r) => Number(r[1])))} certificates/s, ${median(mine.map((r) => Number(r[2])))} µs of server CPU each (${mine.length} runs)`);
  }' "$results"
rm -f "$results"
