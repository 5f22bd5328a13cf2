#!/usr/bin/env bash
# Returned-mail benchmark (issue 15). Three measures, each beside a bare tool in the same run:
#  1. the classifier alone on one core (`jarida bounces classify --repeat`) over the 48-message
#     corpus, beside Python's standard e-mail parser reading the same bytes on the same core;
#  2. the pipe path (`jarida bounces ingest`, one process per message as Postfix runs it), beside
#     `cat > /dev/null` started the same way;
#  3. the built-in receiver under smtp-source (Postfix's load generator: 4 sessions, messages to a
#     signed return path), beside smtp-sink (Postfix's bare receiver) under the same load.
# Needs postfix (smtp-sink, smtp-source), python3, taskset, GNU time.
# Usage: bench/bounces.sh [REPEAT] (corpus passes for measure 1, default 400). JARIDA_BIN skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT="${1:-400}"
for tool in /usr/sbin/smtp-sink /usr/sbin/smtp-source /usr/bin/time taskset python3; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing (apt-get install postfix time util-linux)" >&2; exit 1; }
done
if [ -z "${JARIDA_BIN:-}" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
  cargo build --release -q -p jarida
  JARIDA_BIN="$CARGO_TARGET_DIR/release/jarida"
fi
BIN="$JARIDA_BIN"
WORK=$(mktemp -d /tmp/jarida-bounce-bench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "error: nothing on port $1" >&2; exit 1; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
user_args=(); [ "$(id -u)" = 0 ] && user_args=(-u postfix)

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"

# The corpus with its placeholders filled in.
mkdir -p "$WORK/corpus"
for f in crates/jarida-mail/tests/fixtures/bounces/*.eml; do
  sed -e 's/%VERP%/b+12-345-0123456789abcdef@bounces.example.org/g' \
      -e 's/%MSGID%/e12.s345.a1b2c3d4e5f6@example.org/g' "$f" > "$WORK/corpus/$(basename "$f")"
done
N=$(ls "$WORK/corpus" | wc -l)
BYTES=$(cat "$WORK/corpus"/*.eml | wc -c)

# 1. The classifier on one core.
echo "== 1. classifier, one core: $N messages ($BYTES bytes) x $REPEAT"
J=$(taskset -c 0 "$BIN" bounces classify --repeat "$REPEAT" "$WORK"/corpus/*.eml | sed -n 's/.*: \([0-9]*\) per second.*/\1/p')
P=$(taskset -c 0 python3 - "$REPEAT" "$WORK"/corpus/*.eml <<'EOF'
import email, email.policy, sys, time
repeat, files = int(sys.argv[1]), sys.argv[2:]
data = [open(f, "rb").read() for f in files]
t = time.perf_counter()
for _ in range(repeat):
    for d in data:
        m = email.message_from_bytes(d, policy=email.policy.default)
        for part in m.walk():
            part.get_content_type()
print(round(len(data) * repeat / (time.perf_counter() - t)))
EOF
)
printf 'jarida classify   %8s msg/s\npython email      %8s msg/s (parse and walk only)\nratio             %8s   (target: >= 10,000 msg/s on one core)\n' \
  "$J" "$P" "$(awk -v a="$J" -v b="$P" 'BEGIN { printf "%.1f", a / b }')"

# A data folder with one edition sent through smtp-sink, for signed return paths.
export JARIDA_DATA_DIR="$WORK/data" JARIDA_LOG=warn JARIDA_BASE_URL="https://news.example.org"
export JARIDA_MAIL__FROM_ADDRESS="newsletter@news.example.org" JARIDA_MAIL__SMTP_TLS=none
unset JARIDA_DATABASE_URL
SINK_PORT=$(port)
mkdir -p "$WORK/sunk"; chmod 777 "$WORK/sunk"
/usr/sbin/smtp-sink "${user_args[@]}" -d "$WORK/sunk/%M." "127.0.0.1:$SINK_PORT" 64 >/dev/null 2>&1 &
PIDS+=($!); wait_port "$SINK_PORT"
export JARIDA_MAIL__SMTP_HOST=127.0.0.1 JARIDA_MAIL__SMTP_PORT="$SINK_PORT"
"$BIN" import crates/jarida/tests/fixtures/editions >/dev/null
printf 'email,name,lang\n' > "$WORK/list.csv"
for i in $(seq 1 200); do printf 'reader%03d@example.org,Reader %d,en\n' "$i" "$i"; done >> "$WORK/list.csv"
"$BIN" subscribers import --confirmed --map email=email,name=name,lang=lang "$WORK/list.csv" >/dev/null
ID=$("$BIN" editions compose --until 2026-10-15T09:00:00Z | sed -n 's/^composed edition \([0-9]*\).*/\1/p')
"$BIN" editions send "$ID" >/dev/null
mapfile -t VERPS < <(grep -h '^X-Mail-Args: <b+' "$WORK"/sunk/* | sed 's/^X-Mail-Args: <\([^>]*\)>.*/\1/' | sort -u)
[ "${#VERPS[@]}" -ge 200 ] || { echo "error: ${#VERPS[@]} return paths in the sink" >&2; exit 1; }

# 2. The pipe: one process per message, each a hard bounce for another reader.
M=200
echo "== 2. pipe path: $M messages, one process each"
for i in $(seq 0 $((M - 1))); do
  sed "s/b+12-345-0123456789abcdef@bounces.example.org/${VERPS[$i]}/g" "$WORK/corpus/postfix-user-unknown.eml" > "$WORK/pipe-$i.eml"
done
t0=$(ms); for i in $(seq 0 $((M - 1))); do cat > /dev/null < "$WORK/pipe-$i.eml"; done; t1=$(ms)
BASE=$(awk -v n=$M -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ms / 1000) }')
t0=$(ms); for i in $(seq 0 $((M - 1))); do "$BIN" bounces ingest < "$WORK/pipe-$i.eml" > "$WORK/pipe-out"; done; t1=$(ms)
grep -q 'hard: reader' "$WORK/pipe-out" || { echo "error: the pipe did not take the bounce:"; cat "$WORK/pipe-out"; exit 1; }
PIPE=$(awk -v n=$M -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ms / 1000) }')
printf 'jarida bounces ingest %6s msg/s\ncat > /dev/null       %6s msg/s\nratio                 %6s\n' \
  "$PIPE" "$BASE" "$(awk -v a="$PIPE" -v b="$BASE" 'BEGIN { printf "%.2f", a / b }')"

# 3. The receiver against smtp-sink, under the same smtp-source load.
MSGS=20000
echo "== 3. receiver: smtp-source -s 4 -m $MSGS, 4 KB messages to a signed return path"
R_PORT=$(port)
JARIDA_BOUNCES__LISTEN="127.0.0.1:$R_PORT" JARIDA_DELIVERY__ENABLED=false \
  /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" serve --listen "127.0.0.1:$(port)" >/dev/null 2>&1 &
PIDS+=($!); wait_port "$R_PORT"
B_PORT=$(port)
/usr/sbin/smtp-sink "${user_args[@]}" "127.0.0.1:$B_PORT" 64 >/dev/null 2>&1 &
PIDS+=($!); wait_port "$B_PORT"
rate() { # port -> msg/s
  local t0 t1
  t0=$(ms)
  /usr/sbin/smtp-source -s 4 -m "$MSGS" -l 4096 -f "" -t "${VERPS[0]}" "127.0.0.1:$1" >/dev/null
  t1=$(ms)
  awk -v n="$MSGS" -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ms / 1000) }'
}
S1=$(rate "$B_PORT"); R1=$(rate "$R_PORT"); S2=$(rate "$B_PORT"); R2=$(rate "$R_PORT")
S=$(( (S1 + S2) / 2 )); R=$(( (R1 + R2) / 2 ))
printf 'jarida receiver %8s msg/s (rounds %s, %s)\nsmtp-sink       %8s msg/s (rounds %s, %s)\nratio           %8s\n' \
  "$R" "$R1" "$R2" "$S" "$S1" "$S2" "$(awk -v a="$R" -v b="$S" 'BEGIN { printf "%.2f", a / b }')"
