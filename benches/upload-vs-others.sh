#!/usr/bin/env bash
# Stowage beside the tools a user would otherwise reach for, in one run, with ratios printed
# (absolute figures move from run to run and machine to machine; ratios within one run are
# what the goals of issue #20 are stated in):
#
#  1. SEGMENTS × 1 MiB and SMALL × SMALL_KIB KiB to one local S3 server (s3s-fs, signatures
#     and checksums checked, in its own process on this machine): the bare aws-sdk-s3 PUT
#     loop at its best concurrency (the ceiling), `stowage upload` with no tuning flag (the
#     default: --s3-integrity auto), with each integrity mode forced, `rclone copy` and
#     `aws s3 cp --recursive`;
#  2. one BIG_MIB MiB MP4: wall time and peak RSS of stowage, rclone and aws-cli;
#  3. a recording (LOCAL_SEGMENTS × 1 MiB) into a local directory: `stowage upload DIR
#     file:///…` beside `cp -r` and `rclone copy`, timed to when each returns (the goal) and
#     to the end of a `sync` after it (stowage fsyncs what it reports landed; the others
#     leave their writeback to the kernel, after they return);
#  4. `stowage verify` of VERIFY_SEGMENTS segments beside `rclone check`, requests counted
#     (benches/src/bin/verify-bench.rs, in-process server that counts what it answers);
#  5. (only with ONLY=sweep) the measurement the default concurrencies were chosen by:
#     stowage at --concurrency 8/16/32/64 on both object sizes and into a local directory,
#     and at --part-concurrency 4/8/16 on a SWEEP_BIG_MIB (512) MiB MP4.
#
#   benches/upload-vs-others.sh
#   SEGMENTS=200 SMALL=500 BIG_MIB=256 LOCAL_SEGMENTS=200 VERIFY_SEGMENTS=2000 benches/upload-vs-others.sh
#
# CONCURRENCY (16) is what rclone (--transfers) and aws-cli (max_concurrent_requests) get;
# stowage runs with its defaults. ROUNDS (1) runs every tool that many times, interleaved,
# and keeps each one's best (a machine shared with other work is noisy). ONLY="s3 small big
# local verify" picks sections; SERVER_TMP picks where the S3 server keeps its data (default
# /dev/shm when it has room); SKIP_BUILD=1 uses the binaries already built in
# $CARGO_TARGET_DIR/release (or target/release).
set -euo pipefail
cd "$(dirname "$0")/.."
SEGMENTS=${SEGMENTS:-1000}
SMALL=${SMALL:-2000}
SMALL_KIB=${SMALL_KIB:-4}
BIG_MIB=${BIG_MIB:-2048}
LOCAL_SEGMENTS=${LOCAL_SEGMENTS:-$SEGMENTS}
VERIFY_SEGMENTS=${VERIFY_SEGMENTS:-10000}
CONCURRENCY=${CONCURRENCY:-16}
ROUNDS=${ROUNDS:-1}
ONLY=${ONLY:-s3 small big local verify}
BIN=${CARGO_TARGET_DIR:-target}/release

want() { [[ " $ONLY " == *" $1 "* ]]; }
command -v rclone >/dev/null || { echo "installing rclone (Debian)"; apt-get install -y -qq rclone >/dev/null; }
command -v aws >/dev/null || python3 -m pip install --quiet awscli
if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release --quiet -p stowage-cli --bin stowage -p stowage-testkit --bin stowage-test-s3 \
    -p stowage-benches --bin sdk-put-loop --bin verify-bench
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/stowage-bench.XXXXXX")
trap 'exec 3>&- 2>/dev/null || true; rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine counts against every tool alike)"
echo "work dir $work"

gen() { # dir count bytes-each
  mkdir -p "$1"
  for i in $(seq -w 1 "$2"); do head -c "$3" /dev/urandom > "$1/seg_$i.ts"; done
  sync # else the first tool timed shares the disk with this data's writeback
}
now() { date +%s.%N; }
py() { python3 -c "print($1)"; }
mib() { py "f'{$1/1048576/($3-$2):.0f}'"; }        # bytes t0 t1 → MiB/s
per_s() { py "f'{$1/($3-$2):.0f}'"; }              # count t0 t1 → objects/s
secs() { py "f'{$2-$1:.2f}'"; }
ratio() { py "f'{$1/$2:.2f}'"; }
best() { py "max($1, $2)"; }        # rates: higher is better
least() { py "min($1, $2)"; }       # seconds: lower is better

# The server lives as long as fd 3 (its stdin) is open. Every run gets a bucket of its own,
# removed afterwards (untimed) so the disk does not fill. Its data lives in SERVER_TMP
# (/dev/shm when it has room for the big MP4 twice over, else TMPDIR): on disk, the
# writeback of one tool's objects lands in the next tool's timing, and the same run measured
# the bare loop anywhere from 349 to 1 825 objects/s.
need_kib=$(( (BIG_MIB * 2 + SEGMENTS * 2 + 512) * 1024 ))
if [[ -z "${SERVER_TMP:-}" ]] && [[ -d /dev/shm ]] && (( $(df -k --output=avail /dev/shm | tail -1) > need_kib )); then
  SERVER_TMP=/dev/shm
fi
SERVER_TMP=${SERVER_TMP:-${TMPDIR:-/tmp}}
coproc SERVER { TMPDIR=$SERVER_TMP "$BIN/stowage-test-s3"; }
exec 3>&"${SERVER[1]}"
declare -A S
for _ in 1 2 3 4; do IFS='=' read -r k v <&"${SERVER[0]}"; S[$k]=$v; done
EP=${S[ENDPOINT]} AK=${S[ACCESS_KEY]} SK=${S[SECRET_KEY]} ROOT=${S[ROOT]}
echo "S3 server $EP (s3s-fs, data in $ROOT)"
n_bucket=0
bucket() { n_bucket=$((n_bucket + 1)); B="run$n_bucket"; mkdir "$ROOT/$B"; }
drop_bucket() {
  local enc; enc=$(py "__import__('base64').urlsafe_b64encode(b'$1').decode().rstrip('=')")
  rm -rf "${ROOT:?}/$1" "$ROOT"/.bucket-"$enc".* 2>/dev/null || true
}

export RCLONE_CONFIG_B_TYPE=s3 RCLONE_CONFIG_B_PROVIDER=Other RCLONE_CONFIG_B_ENDPOINT=$EP \
  RCLONE_CONFIG_B_ACCESS_KEY_ID=$AK RCLONE_CONFIG_B_SECRET_ACCESS_KEY=$SK RCLONE_CONFIG_B_FORCE_PATH_STYLE=true \
  RCLONE_CONFIG=/dev/null
awscfg=$work/aws-config
printf '[default]\nregion = us-east-1\ns3 =\n  max_concurrent_requests = %s\n  multipart_chunksize = 16MB\n' "$CONCURRENCY" > "$awscfg"

# Runs one tool on one data set into a fresh bucket; sets T0/T1 and RSS (KiB). Arguments
# after the directory go to stowage.
run_tool() { # tool dir [stowage flags…]
  local tool=$1 dir=$2
  shift 2
  bucket
  rm -rf "$dir/.stowage"
  T0=$(now)
  case $tool in
    stowage|stowage:*)
      local mode=${tool#stowage}; mode=${mode#:}
      /usr/bin/time -f '%M' -o "$work/rss" "$BIN/stowage" upload "$dir" "s3://$B/rec" --endpoint "$EP" \
        --access-key "$AK" --secret-key "$SK" ${mode:+--s3-integrity "$mode"} "$@" >/dev/null ;;
    rclone)
      /usr/bin/time -f '%M' -o "$work/rss" env -u AWS_CA_BUNDLE rclone copy --transfers "$CONCURRENCY" \
        --checkers "$CONCURRENCY" --s3-upload-concurrency "$CONCURRENCY" "$dir" "b:$B/rec" ;;
    aws)
      AWS_CONFIG_FILE=$awscfg AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK /usr/bin/time -f '%M' -o "$work/rss" \
        aws --endpoint-url "$EP" s3 cp --recursive --only-show-errors "$dir" "s3://$B/rec/" ;;
  esac
  T1=$(now)
  RSS=$(tail -1 "$work/rss")
  rm -rf "$dir/.stowage"
  drop_bucket "$B"
}

declare -A R # results
TOOLS=(stowage stowage:auto stowage:crc64nvme stowage:md5 rclone aws)
label() { case $1 in stowage) echo "stowage (default)";; stowage:*) echo "stowage --s3-integrity ${1#stowage:}";; *) echo "$1";; esac; }

if want s3; then
  echo; echo "== $SEGMENTS × 1 MiB to the local S3 server"
  gen "$work/segs" "$SEGMENTS" 1048576
  R[loop_segs]=0
  for _ in $(seq "$ROUNDS"); do
    bucket
    read -r rate _ c < <("$BIN/sdk-put-loop" "$EP" "$AK" "$SK" "$B" "$work/segs")
    drop_bucket "$B"
    [[ $(best "$rate" "${R[loop_segs]}") == "${R[loop_segs]}" ]] || { R[loop_segs]=$rate; R[loop_c_segs]=$c; }
    for t in "${TOOLS[@]}"; do
      run_tool "$t" "$work/segs"
      rate=$(mib $((SEGMENTS * 1048576)) "$T0" "$T1")
      echo "  $(label "$t"): $rate MiB/s"
      R[${t}_segs]=$(best "$rate" "${R[${t}_segs]:-0}")
    done
  done
  rm -rf "$work/segs"
fi

if want small; then
  echo; echo "== $SMALL × $SMALL_KIB KiB to the local S3 server"
  gen "$work/small" "$SMALL" $((SMALL_KIB * 1024))
  R[loop_small]=0
  for _ in $(seq "$ROUNDS"); do
    bucket
    read -r _ rate c < <("$BIN/sdk-put-loop" "$EP" "$AK" "$SK" "$B" "$work/small")
    drop_bucket "$B"
    [[ $(best "$rate" "${R[loop_small]}") == "${R[loop_small]}" ]] || { R[loop_small]=$rate; R[loop_c_small]=$c; }
    for t in "${TOOLS[@]}"; do
      run_tool "$t" "$work/small"
      rate=$(per_s "$SMALL" "$T0" "$T1")
      echo "  $(label "$t"): $rate objects/s"
      R[${t}_small]=$(best "$rate" "${R[${t}_small]:-0}")
    done
  done
  rm -rf "$work/small"
fi

if want big; then
  echo; echo "== one $BIG_MIB MiB MP4 to the local S3 server"
  mkdir -p "$work/big"
  head -c "$((BIG_MIB * 1048576))" /dev/urandom > "$work/big/recording_0.mp4"
  sync
  for _ in $(seq "$ROUNDS"); do
    for t in stowage rclone aws; do
      run_tool "$t" "$work/big"
      s=$(secs "$T0" "$T1")
      echo "  $(label "$t"): $s s, peak RSS $((RSS / 1024)) MiB"
      R[${t}_big]=$(least "$s" "${R[${t}_big]:-1e9}")
      R[${t}_big_rss]=$(( RSS / 1024 > ${R[${t}_big_rss]:-0} ? RSS / 1024 : ${R[${t}_big_rss]:-0} ))
    done
  done
  rm -rf "$work/big"
fi

if want local; then
  echo; echo "== a recording of $LOCAL_SEGMENTS × 1 MiB into a local directory"
  gen "$work/rec" "$LOCAL_SEGMENTS" 1048576
  printf '#EXTM3U\n#EXT-X-TARGETDURATION:2\n' > "$work/rec/rec.m3u8"
  for f in "$work"/rec/*.ts; do printf '#EXTINF:2.0,\n%s\n' "$(basename "$f")" >> "$work/rec/rec.m3u8"; done
  echo '#EXT-X-ENDLIST' >> "$work/rec/rec.m3u8"
  sync
  for _ in $(seq "$ROUNDS"); do
    for t in cp rclone stowage; do
      rm -rf "$work/dest" "$work/rec/.stowage"; sync
      T0=$(now)
      case $t in
        cp) cp -r "$work/rec" "$work/dest" ;;
        rclone) rclone copy --transfers "$CONCURRENCY" "$work/rec" "$work/dest" ;;
        stowage) "$BIN/stowage" upload "$work/rec" "file://$work/dest" >/dev/null ;;
      esac
      T1=$(now)
      sync # stowage fsyncs before it reports an object landed; cp and rclone leave writeback
      T2=$(now)
      s=$(secs "$T0" "$T1"); d=$(secs "$T0" "$T2")
      echo "  $t: $s s ($d s with the sync after it)"
      R[${t}_local]=$(least "$s" "${R[${t}_local]:-1e9}")
      R[${t}_local_durable]=$(least "$d" "${R[${t}_local_durable]:-1e9}")
    done
  done
  rm -rf "$work/dest" "$work/rec"
fi

if want sweep; then
  echo; echo "== concurrency sweep (the defaults: --concurrency 16, --part-concurrency 8)"
  gen "$work/sw1m" "$SEGMENTS" 1048576
  gen "$work/sw4k" "$SMALL" $((SMALL_KIB * 1024))
  mkdir -p "$work/swbig"
  head -c "$((${SWEEP_BIG_MIB:-512} * 1048576))" /dev/urandom > "$work/swbig/recording_0.mp4"
  for _ in $(seq "$ROUNDS"); do
    for c in 8 16 32 64; do
      run_tool stowage "$work/sw1m" --concurrency "$c"
      echo "  --concurrency $c, $SEGMENTS × 1 MiB: $(mib $((SEGMENTS * 1048576)) "$T0" "$T1") MiB/s"
      run_tool stowage "$work/sw4k" --concurrency "$c"
      echo "  --concurrency $c, $SMALL × $SMALL_KIB KiB: $(per_s "$SMALL" "$T0" "$T1") objects/s"
      rm -rf "$work/swdest" "$work/sw1m/.stowage"; sync
      T0=$(now); "$BIN/stowage" upload "$work/sw1m" "file://$work/swdest" --concurrency "$c" >/dev/null; T1=$(now)
      echo "  --concurrency $c, $SEGMENTS × 1 MiB into a local directory: $(secs "$T0" "$T1") s"
      rm -rf "$work/swdest" "$work/sw1m/.stowage"
    done
    for pc in 4 8 16; do
      run_tool stowage "$work/swbig" --part-concurrency "$pc"
      echo "  --part-concurrency $pc, one ${SWEEP_BIG_MIB:-512} MiB MP4: $(secs "$T0" "$T1") s, peak RSS $((RSS / 1024)) MiB"
    done
  done
  rm -rf "$work/sw1m" "$work/sw4k" "$work/swbig"
fi

if want verify; then
  echo; echo "== verify $VERIFY_SEGMENTS segments (uploaded with --s3-integrity md5, then with the default)"
  for mode in md5 auto; do
    "$BIN/verify-bench" "$VERIFY_SEGMENTS" "$mode" | tee "$work/verify-$mode"
    R[verify_req_$mode]=$(sed -n 's/.*stowage verify: .*, \([0-9]*\) requests.*/\1/p' "$work/verify-$mode")
    R[verify_ratio_$mode]=$(sed -n 's/.*time ratio stowage\/rclone: \([0-9.]*\).*/\1/p' "$work/verify-$mode")
  done
fi

echo
echo "== summary (best of $ROUNDS round(s); ratios within this run; goals of issue #20 in brackets)"
if want s3; then
  echo "$SEGMENTS × 1 MiB, MiB/s (bare SDK loop ${R[loop_segs]} at concurrency ${R[loop_c_segs]}):"
  for t in "${TOOLS[@]}"; do
    printf '  %-32s %6s  %5s× loop  %5s× rclone  %5s× aws-cli\n' "$(label "$t")" "${R[${t}_segs]}" \
      "$(ratio "${R[${t}_segs]}" "${R[loop_segs]}")" "$(ratio "${R[${t}_segs]}" "${R[rclone_segs]}")" "$(ratio "${R[${t}_segs]}" "${R[aws_segs]}")"
  done
  echo "  [default ≥ 0.9× loop and ≥ 1.2× rclone]"
fi
if want small; then
  echo "$SMALL × $SMALL_KIB KiB, objects/s (bare SDK loop ${R[loop_small]} at concurrency ${R[loop_c_small]}):"
  for t in "${TOOLS[@]}"; do
    printf '  %-32s %6s  %5s× loop  %5s× rclone  %5s× aws-cli\n' "$(label "$t")" "${R[${t}_small]}" \
      "$(ratio "${R[${t}_small]}" "${R[loop_small]}")" "$(ratio "${R[${t}_small]}" "${R[rclone_small]}")" "$(ratio "${R[${t}_small]}" "${R[aws_small]}")"
  done
  echo "  [default ≥ 0.9× loop and ≥ 1.2× rclone]"
fi
if want big; then
  echo "one $BIG_MIB MiB MP4: stowage ${R[stowage_big]} s (peak RSS ${R[stowage_big_rss]} MiB), rclone ${R[rclone_big]} s (${R[rclone_big_rss]} MiB), aws-cli ${R[aws_big]} s (${R[aws_big_rss]} MiB)"
  echo "  stowage speed $(ratio "${R[aws_big]}" "${R[stowage_big]}")× aws-cli, $(ratio "${R[rclone_big]}" "${R[stowage_big]}")× rclone  [≥ 1.1× aws-cli, ≤ 128 MiB]"
fi
if want local; then
  echo "$LOCAL_SEGMENTS × 1 MiB into a local directory: stowage ${R[stowage_local]} s, rclone copy ${R[rclone_local]} s, cp -r ${R[cp_local]} s"
  echo "  stowage speed $(ratio "${R[rclone_local]}" "${R[stowage_local]}")× rclone copy, $(ratio "${R[cp_local]}" "${R[stowage_local]}")× cp -r  [≥ 1.0× rclone copy]"
  echo "  until on disk (each followed by sync): stowage ${R[stowage_local_durable]} s, rclone copy ${R[rclone_local_durable]} s, cp -r ${R[cp_local_durable]} s: stowage $(ratio "${R[rclone_local_durable]}" "${R[stowage_local_durable]}")× rclone copy, $(ratio "${R[cp_local_durable]}" "${R[stowage_local_durable]}")× cp -r"
fi
if want verify; then
  echo "verify of $VERIFY_SEGMENTS segments: ${R[verify_req_md5]} requests, $(ratio "${R[verify_ratio_md5]}" 1)× rclone check's time (uploaded with md5); ${R[verify_req_auto]} requests, ${R[verify_ratio_auto]}× (uploaded with the default)  [≤ 13 requests, ≤ 0.05×]"
fi
