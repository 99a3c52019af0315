#!/usr/bin/env bash
# Runs the benchmark matrix in release mode: SQLite, SQLite with Redis, MariaDB and PostgreSQL
# (the last two when their URLs are set), writing one JSON file per configuration.
#   bench/run.sh                      # 10 s per scenario, 10,000 users
#   SECONDS_PER=3 USERS=1000000 bench/run.sh
# Environment: BENCH_MYSQL_URL (an empty database), BENCH_POSTGRES_URL, BENCH_REDIS_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p hufu -p hufu-bench
out=${OUT:-target/bench}
mkdir -p "$out"
args=(--seconds "${SECONDS_PER:-10}" --users "${USERS:-10000}")
./target/release/bench "${args[@]}" --json "$out/sqlite.json"
if [ -n "${BENCH_REDIS_URL:-}" ]; then
  ./target/release/bench "${args[@]}" --redis-url "$BENCH_REDIS_URL" --json "$out/sqlite-redis.json"
fi
if [ -n "${BENCH_MYSQL_URL:-}" ]; then
  ./target/release/bench "${args[@]}" --database-url "$BENCH_MYSQL_URL" --json "$out/mysql.json"
  [ -n "${BENCH_REDIS_URL:-}" ] && ./target/release/bench "${args[@]}" --database-url "$BENCH_MYSQL_URL" --redis-url "$BENCH_REDIS_URL" --json "$out/mysql-redis.json"
fi
if [ -n "${BENCH_POSTGRES_URL:-}" ]; then
  ./target/release/bench "${args[@]}" --database-url "$BENCH_POSTGRES_URL" --json "$out/postgres.json"
  [ -n "${BENCH_REDIS_URL:-}" ] && ./target/release/bench "${args[@]}" --database-url "$BENCH_POSTGRES_URL" --redis-url "$BENCH_REDIS_URL" --json "$out/postgres-redis.json"
fi
echo "results in $out/"
