#!/usr/bin/env bash
# Uploads 1 000 × 1 MiB segments and one 2 GiB file to the same local S3 server (s3s-fs,
# signatures checked, on this machine) with Stowage, `rclone copy` and `aws s3 cp
# --recursive`, beside the ceiling: a bare aws-sdk-s3 PUT loop at its best concurrency.
# Prints MiB/s, ratios to the ceiling, and Stowage's peak RSS. `stowage` sends CRC64-NVME
# (checked by the server), `stowage_md5` also Content-MD5 (one more pass over every byte).
#
#   benches/upload-vs-others.sh            (SEGMENTS=1000 BIG_MIB=2048 CONCURRENCY=16 to change)
set -euo pipefail
cd "$(dirname "$0")/.."
SEGMENTS=${SEGMENTS:-1000}
BIG_MIB=${BIG_MIB:-2048}
CONCURRENCY=${CONCURRENCY:-16}

command -v rclone >/dev/null || { echo "installing rclone (Debian)"; apt-get install -y -qq rclone >/dev/null; }
command -v aws >/dev/null || python3 -m pip install --quiet awscli
cargo build --release --quiet -p stowage-cli --bin stowage -p stowage-testkit --bin stowage-test-s3 -p stowage-benches --bin sdk-put-loop
BIN=target/release

work=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/segs" "$work/big"
echo "generating $SEGMENTS × 1 MiB and one $BIG_MIB MiB file in $work"
for i in $(seq -w 1 "$SEGMENTS"); do head -c 1048576 /dev/urandom > "$work/segs/seg_$i.ts"; done
head -c "$((BIG_MIB * 1048576))" /dev/urandom > "$work/big/recording_0.mp4"

# The server lives as long as fd 3 (its stdin) is open.
coproc SERVER { "$BIN/stowage-test-s3" ceiling stowage1 stowage2 rclone1 rclone2 aws1 aws2; }
exec 3>&"${SERVER[1]}"
declare -A S
for _ in 1 2 3 4; do IFS='=' read -r k v <&"${SERVER[0]}"; S[$k]=$v; done
EP=${S[ENDPOINT]} AK=${S[ACCESS_KEY]} SK=${S[SECRET_KEY]}
echo "server $EP"

now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1/1048576/($3-$2):.0f}')"; }
seg_bytes=$((SEGMENTS * 1048576)); big_bytes=$((BIG_MIB * 1048576))

echo "ceiling: bare aws-sdk-s3 PUT loop"
read -r ceiling ceiling_c < <("$BIN/sdk-put-loop" "$EP" "$AK" "$SK" ceiling "$work/segs")

stowage_run() { # dir bucket integrity
  rm -rf "$1/.stowage"
  /usr/bin/time -f '%M' -o "$work/rss" "$BIN/stowage" upload "$1" "s3://$2/x" --endpoint "$EP" \
    --access-key "$AK" --secret-key "$SK" --concurrency "$CONCURRENCY" --part-concurrency "$CONCURRENCY" \
    --s3-integrity "${3:-crc64nvme}" >/dev/null
  rm -rf "$1/.stowage"
}
export RCLONE_CONFIG_B_TYPE=s3 RCLONE_CONFIG_B_PROVIDER=Other RCLONE_CONFIG_B_ENDPOINT=$EP \
  RCLONE_CONFIG_B_ACCESS_KEY_ID=$AK RCLONE_CONFIG_B_SECRET_ACCESS_KEY=$SK RCLONE_CONFIG_B_FORCE_PATH_STYLE=true
awscfg=$work/aws-config
printf '[default]\nregion = us-east-1\ns3 =\n  max_concurrent_requests = %s\n  multipart_chunksize = 16MB\n' "$CONCURRENCY" > "$awscfg"
aws_run() { AWS_CONFIG_FILE=$awscfg AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK \
  aws --endpoint-url "$EP" s3 cp --recursive --only-show-errors "$1" "s3://$2/x/"; }

declare -A R
t0=$(now); stowage_run "$work/segs" stowage1 md5; t1=$(now); R[stowage_md5_segs]=$(rate $seg_bytes "$t0" "$t1")
t0=$(now); stowage_run "$work/segs" stowage1; t1=$(now); R[stowage_segs]=$(rate $seg_bytes "$t0" "$t1"); rss_segs=$(cat "$work/rss")
t0=$(now); stowage_run "$work/big" stowage2; t1=$(now); R[stowage_big]=$(rate $big_bytes "$t0" "$t1"); rss_big=$(cat "$work/rss")
t0=$(now); env -u AWS_CA_BUNDLE rclone copy --transfers "$CONCURRENCY" --s3-upload-concurrency "$CONCURRENCY" "$work/segs" b:rclone1/x; t1=$(now); R[rclone_segs]=$(rate $seg_bytes "$t0" "$t1")
t0=$(now); env -u AWS_CA_BUNDLE rclone copy --s3-upload-concurrency "$CONCURRENCY" "$work/big" b:rclone2/x; t1=$(now); R[rclone_big]=$(rate $big_bytes "$t0" "$t1")
t0=$(now); aws_run "$work/segs" aws1; t1=$(now); R[aws_segs]=$(rate $seg_bytes "$t0" "$t1")
t0=$(now); aws_run "$work/big" aws2; t1=$(now); R[aws_big]=$(rate $big_bytes "$t0" "$t1")

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo
printf '%-34s %10s %10s\n' "" "MiB/s" "÷ ceiling"
printf '%-34s %10s %10s\n' "bare SDK loop (concurrency $ceiling_c)" "$ceiling" "1.00"
for t in stowage stowage_md5 rclone aws; do
  printf '%-34s %10s %10s\n' "$t: $SEGMENTS × 1 MiB" "${R[${t}_segs]}" "$(ratio "${R[${t}_segs]}" "$ceiling")"
done
for t in stowage rclone aws; do
  printf '%-34s %10s\n' "$t: one $BIG_MIB MiB file" "${R[${t}_big]}"
done
echo
echo "stowage peak RSS: $((rss_segs / 1024)) MiB for the segments, $((rss_big / 1024)) MiB for the $BIG_MIB MiB file"
echo "stowage vs rclone: $(ratio "${R[stowage_segs]}" "${R[rclone_segs]}")x (segments), $(ratio "${R[stowage_big]}" "${R[rclone_big]}")x (big file)"
echo "stowage vs aws-cli: $(ratio "${R[stowage_segs]}" "${R[aws_segs]}")x (segments), $(ratio "${R[stowage_big]}" "${R[aws_big]}")x (big file)"
